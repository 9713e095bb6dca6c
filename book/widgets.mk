# Offline JavaScript for the ipywidgets outputs in the book, and a headless-browser check of
# the built HTML. Included by the top-level Makefile (which defines BIN and the `book` target).
#
# myst-nb loads require.js and @jupyter-widgets/html-manager's embed-amd.js on pages with
# widgets (`nb_ipywidgets_js` in _config.yml). By default they come from CDNs; here they are
# pinned in package.json / package-lock.json, installed with `npm ci` and copied into
# book/_static (html_static_path), so the built book renders its widgets with no network.
.PHONY: widgets-js check-book

NPM ?= npm
WIDGETS_JS := book/_static/require.js book/_static/embed-amd.js

# Make merges prerequisites: the book build needs the copied scripts.
book: $(WIDGETS_JS)
widgets-js: $(WIDGETS_JS)

# `npm ci` installs exactly package-lock.json (no install scripts: only fontawesome's attribution
# message); the stamp re-runs it when the lock file changes.
node_modules/.transinv-installed: package.json package-lock.json
	$(NPM) ci --no-audit --no-fund --ignore-scripts
	touch $@

book/_static/require.js: node_modules/.transinv-installed
	@mkdir -p $(@D)
	cp node_modules/requirejs/require.js $@

book/_static/embed-amd.js: node_modules/.transinv-installed
	@mkdir -p $(@D)
	cp node_modules/@jupyter-widgets/html-manager/dist/embed-amd.js $@

# Loads every page of the built book in headless Chromium (network off) and checks that the
# figures are there and the widget views were rendered by the widget manager.
check-book: install
	$(BIN)/python tools/check_book.py _build/html
