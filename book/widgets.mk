# Filled in by the widgets work: offline widget JS for the book, headless Chromium check.
