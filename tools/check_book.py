#!/usr/bin/env python3
"""Check the built HTML book in a real (headless) browser, with the network switched off.

For each page (every ``*.html`` of the book, or the pages named on the command line) this
loads the page in headless Chromium, lets its JavaScript run, dumps the rendered DOM and checks:

* the figures are there: a page whose HTML has images in its cell outputs (or figures) still
  has at least as many after JavaScript ran, and the local image files exist;
* no cell output shows ``NaN`` (a missing value reads "not run" or "—");
* the ipywidgets are rendered: a page with widget views (``<script type=
  "application/vnd.jupyter.widget-view+json">``) has the widget state on the page, loads
  require.js and embed-amd.js from local files (not from a CDN), and after JavaScript ran every
  view has been replaced by a rendered widget (the html-manager puts each view into a
  ``div.widget-subarea``; a rendered view has a ``jupyter-widgets`` element inside it), with no
  ipywidgets error widget (``jupyter-widgets-error-widget``: a model or view that failed to load,
  e.g. a widget library that embed-amd.js does not bundle, whose "CDN" is switched off).

Chromium runs with every host name mapped to "not found" and a dead proxy, so nothing can
come from the internet: what renders here renders for a reader without a network.

Usage: python tools/check_book.py [HTML_DIR] [PAGE ...] [--chromium PATH] [--verbose]

Exit status 0 when every page passes, 1 when a check fails, 2 on a usage/setup error.
Standard library only.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
# Markdown that reached the page as text: a table row or rule ("| a | b |", "|---|"), or **emphasis**.
RAW_MARKDOWN = re.compile(r"\|\s*:?-{3,}:?\s*\||^\s*\|.*\|.*\|\s*$|\*\*\w[^*]*\*\*", re.M)
NAN = re.compile(r"\bNaN\b")
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
# The two scripts myst-nb loads for widgets (nb_ipywidgets_js in _config.yml).
WIDGET_SCRIPTS = ("require", "embed-amd")
VOID_TAGS = {
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
    "source", "track", "wbr",
}
# Folders of the built book that hold no pages of ours.
SKIP_DIRS = {"_static", "_sources", "_images", "_downloads", ".doctrees", "_sphinx_design_static"}
SKIP_PAGES = {"genindex.html", "search.html", "py-modindex.html"}
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


@dataclass
class PageScan:
    """What one HTML document (the built file, or the DOM after JavaScript) contains."""

    images: list[str] = field(default_factory=list)  # src of <img> in cell outputs / figures
    widget_images: int = 0  # <img> inside rendered widgets (Image, Output with a figure)
    view_scripts: int = 0  # <script type=widget-view+json>
    state_scripts: int = 0  # <script type=widget-state+json>
    widget_script_srcs: list[str] = field(default_factory=list)  # src of require / embed-amd
    subareas: int = 0  # div.widget-subarea made by the html-manager, one per view
    rendered_subareas: int = 0  # ... with a rendered widget (a .jupyter-widgets element) inside
    widget_kinds: dict[str, int] = field(default_factory=dict)  # widget-slider: 1, ...
    error_widgets: int = 0  # widgets whose model/view failed to load (ipywidgets' ErrorWidgetView)
    raw_markdown: list[str] = field(default_factory=list)  # Markdown syntax shown as text in cell outputs
    tracebacks: int = 0  # error tracebacks in cell outputs
    nans: list[str] = field(default_factory=list)  # "NaN" shown in a cell output (a table cell with no value)


class _Scanner(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.scan = PageScan()
        self.stack: list[tuple[str, set[str], int]] = []  # (tag, classes, subarea id or -1)
        self.rendered: set[int] = set()

    def _inside(self, cls: str | None = None, tag: str | None = None) -> bool:
        return any((cls is None or cls in c) and (tag is None or t == tag) for t, c, _ in self.stack)

    def handle_starttag(self, tag, attrs):
        a = {k: (v or "") for k, v in attrs}
        classes = set(a.get("class", "").split())
        if tag == "img":
            if self._inside("widget-subarea"):
                self.scan.widget_images += 1
            elif self._inside("cell_output") or self._inside(tag="figure"):
                self.scan.images.append(a.get("src", ""))
        elif tag == "script":
            kind = a.get("type", "")
            if kind == WIDGET_VIEW:
                self.scan.view_scripts += 1
            elif kind == WIDGET_STATE:
                self.scan.state_scripts += 1
            src = a.get("src", "")
            name = urlsplit(src).path.rsplit("/", 1)[-1]
            if src and any(name.startswith(s) and name.endswith(".js") for s in WIDGET_SCRIPTS):
                self.scan.widget_script_srcs.append(src)
        if "jupyter-widgets-error-widget" in classes:
            self.scan.error_widgets += 1
        subarea = -1
        if "widget-subarea" in classes:
            subarea = self.scan.subareas
            self.scan.subareas += 1
        if "jupyter-widgets" in classes:
            for _, _, sid in reversed(self.stack):
                if sid >= 0:
                    self.rendered.add(sid)
                    break
            for c in classes:
                if c.startswith("widget-") and c not in {"widget-inline-hbox", "widget-container", "widget-box"}:
                    self.scan.widget_kinds[c] = self.scan.widget_kinds.get(c, 0) + 1
        if tag not in VOID_TAGS:
            self.stack.append((tag, classes, subarea))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID_TAGS:
            self.handle_endtag(tag)

    def handle_data(self, data):
        if not self._inside("cell_output"):
            return
        if "Traceback (most recent call last)" in data:
            self.scan.tracebacks += 1
        if NAN.search(data):  # "not run" or "—" says it to a reader; NaN does not
            self.scan.nans.append(" ".join(data.split())[:80])
        if self._inside(tag="pre") or self._inside(tag="code"):
            return
        if RAW_MARKDOWN.search(data):  # a Markdown table or emphasis that did not render
            self.scan.raw_markdown.append(" ".join(data.split())[:80])

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                return


def scan_html(text: str) -> PageScan:
    parser = _Scanner()
    parser.feed(text)
    parser.close()
    parser.scan.rendered_subareas = len(parser.rendered)
    return parser.scan


def find_chromium(explicit: str | None) -> str:
    candidates = [explicit] if explicit else [os.environ.get("CHROMIUM"), *CHROMIUM_NAMES]
    for c in candidates:
        if not c:
            continue
        found = shutil.which(c) or (c if Path(c).is_file() and os.access(c, os.X_OK) else None)
        if found:
            return found
    what = f"--chromium {explicit!r}" if explicit else "chromium (nor " + ", ".join(CHROMIUM_NAMES[1:]) + ")"
    print(
        f"check_book: {what} not found. Install it (Debian/Ubuntu: apt-get install chromium), "
        "or pass --chromium /path/to/chromium (or set CHROMIUM).",
        file=sys.stderr,
    )
    sys.exit(2)


def render_dom(chromium: str, page: Path, profile: str, budget_ms: int, timeout_s: float) -> tuple[str, list[str]]:
    """The page's DOM after its JavaScript ran, and the browser console lines."""
    cmd = [
        chromium,
        "--headless=new",
        "--no-sandbox",  # we may run as root (containers, CI)
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-features=Translate,OptimizationHints,MediaRouter",
        # No network: every host name is unresolvable, and http(s) goes to a dead proxy.
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--proxy-server=http://127.0.0.1:9",
        "--enable-logging=stderr",
        "--v=0",
        f"--virtual-time-budget={budget_ms}",
        "--dump-dom",
        page.resolve().as_uri(),
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"Chromium did not finish within {timeout_s:g} s") from None
    console = [m.group(1) for m in re.finditer(r"CONSOLE[^\]]*\] (.*)", proc.stderr)]
    if proc.returncode != 0 or not proc.stdout.strip():
        tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
        raise RuntimeError(f"Chromium failed (exit {proc.returncode}):\n{tail}")
    return proc.stdout, console


def is_remote(url: str) -> bool:
    return url.startswith("//") or urlsplit(url).scheme in {"http", "https"}


def local_target(page: Path, url: str) -> Path | None:
    """The file a relative/file URL on `page` points at (None for data:, blob:, remote)."""
    parts = urlsplit(url)
    if parts.scheme in {"data", "blob"} or is_remote(url) or not parts.path:
        return None
    if parts.scheme == "file":
        return Path(unquote(parts.path))
    return (page.parent / unquote(parts.path)).resolve()


def check_page(chromium: str, page: Path, profile: str, args) -> tuple[dict, list[str]]:
    """Returns (table row, failures)."""
    failures: list[str] = []
    before = scan_html(page.read_text(encoding="utf-8", errors="replace"))
    row = {"images": f"{len(before.images)}", "views": f"{before.view_scripts}", "rendered": "-", "kinds": ""}

    # Static checks on the built file.
    missing = [u for u in before.images if (t := local_target(page, u)) is not None and not t.is_file()]
    if missing:
        failures.append(f"{len(missing)} image file(s) missing, e.g. {missing[0]}")
    if before.view_scripts:
        if not before.state_scripts:
            failures.append(
                f"{before.view_scripts} widget view(s) but no widget state on the page "
                "(was the notebook executed with its widget state saved?)"
            )
        names = [urlsplit(s).path.rsplit("/", 1)[-1] for s in before.widget_script_srcs]
        for needed in WIDGET_SCRIPTS:
            if not any(n.startswith(needed) for n in names):
                failures.append(f"no {needed}*.js script on the page (nb_ipywidgets_js in _config.yml)")
        for src in before.widget_script_srcs:
            if is_remote(src):
                failures.append(f"widget script loaded from the network: {src}")
            elif (t := local_target(page, src)) is not None and not t.is_file():
                failures.append(f"widget script {src} is missing from the built book (make widgets-js)")

    try:
        dom, console = render_dom(chromium, page, profile, args.budget, args.timeout)
    except RuntimeError as e:
        return row, failures + [str(e)]
    after = scan_html(dom)
    row["images"] = f"{len(before.images)}->{len(after.images)}"
    if after.widget_images:
        row["images"] += f" (+{after.widget_images} in widgets)"
    row["rendered"] = f"{after.rendered_subareas}"
    row["kinds"] = " ".join(
        f"{k.removeprefix('widget-')}:{n}" if n > 1 else k.removeprefix("widget-")
        for k, n in sorted(after.widget_kinds.items())
    )

    if after.raw_markdown:
        failures.append(f"{len(after.raw_markdown)} output(s) show Markdown as text instead of rendering it, "
                        f"e.g. {after.raw_markdown[0]!r}")
    if after.nans:
        failures.append(f"{len(after.nans)} output(s) show NaN where a value is missing, e.g. {after.nans[0]!r}")
    if after.tracebacks:
        failures.append(f"{after.tracebacks} output(s) show an error traceback")
    if len(after.images) < len(before.images):
        failures.append(f"{len(before.images)} image(s) in the page's outputs, only {len(after.images)} after rendering")
    if before.view_scripts and after.rendered_subareas < before.view_scripts:
        failures.append(
            f"{before.view_scripts} widget view(s) on the page, {after.rendered_subareas} rendered by the "
            f"widget manager ({after.subareas} placeholder(s) made)"
        )
    if after.error_widgets:
        failures.append(
            f"{after.error_widgets} widget(s) failed to load and show ipywidgets' error widget instead "
            "(a widget module that embed-amd.js does not bundle? see the console below)"
        )
    if failures or args.verbose:
        noisy = [c for c in console if re.search(r"error|uncaught|fail|net::|fall(ing)? back|require", c, re.I)]
        shown = console if args.verbose else noisy
        if shown:
            log = "browser console:\n      " + "\n      ".join(line[:300] for line in shown[:20])
            if failures:
                failures.append(log)
            else:
                print(f"{page}: {log}")
    return row, failures


def list_pages(html_dir: Path) -> list[Path]:
    pages = []
    for p in sorted(html_dir.rglob("*.html")):
        rel = p.relative_to(html_dir)
        if rel.parts[0] in SKIP_DIRS or rel.name in SKIP_PAGES:
            continue
        pages.append(p)
    return pages


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("html_dir", nargs="?", default="_build/html", help="the built book (default: _build/html)")
    ap.add_argument("pages", nargs="*", help="pages to check, relative to HTML_DIR (default: all)")
    ap.add_argument("--chromium", help="the Chromium/Chrome executable (default: $CHROMIUM, else chromium on PATH)")
    ap.add_argument("--budget", type=int, default=15000, help="virtual time for the page's JavaScript, ms (15000)")
    ap.add_argument("--timeout", type=float, default=120, help="wall-clock limit per page, s (120)")
    ap.add_argument("--verbose", "-v", action="store_true", help="print the browser console of every page")
    args = ap.parse_args(argv)

    html_dir = Path(args.html_dir)
    if not html_dir.is_dir():
        print(f"check_book: {html_dir} is not a folder; build the book first (make book).", file=sys.stderr)
        return 2
    if args.pages:
        # A page is named relative to HTML_DIR, or as a path of its own.
        pages = [html_dir / s if (html_dir / s).is_file() else Path(s) for s in args.pages]
        absent = [str(p) for p in pages if not p.is_file()]
        if absent:
            print(f"check_book: no such page: {', '.join(absent)}", file=sys.stderr)
            return 2
    else:
        pages = list_pages(html_dir)
        if not pages:
            print(f"check_book: no HTML pages under {html_dir}", file=sys.stderr)
            return 2
    chromium = find_chromium(args.chromium)

    rows, failed = [], {}
    with tempfile.TemporaryDirectory(prefix="check_book-") as profile:
        for page in pages:
            try:
                name = str(page.resolve().relative_to(html_dir.resolve()))
            except ValueError:
                name = str(page)
            row, failures = check_page(chromium, page, profile, args)
            row["page"], row["status"] = name, "FAIL" if failures else "ok"
            rows.append(row)
            if failures:
                failed[name] = failures

    cols = [("page", "page"), ("images", "images (html->rendered)"), ("views", "widget views"),
            ("rendered", "rendered"), ("status", "status"), ("kinds", "widgets rendered")]
    widths = {k: max(len(h), *(len(r[k]) for r in rows)) for k, h in cols}
    print("  ".join(h.ljust(widths[k]) for k, h in cols).rstrip())
    print("  ".join("-" * widths[k] for k, _ in cols))
    for r in rows:
        print("  ".join(r[k].ljust(widths[k]) for k, _ in cols).rstrip())
    sys.stdout.flush()
    if failed:
        print(f"\ncheck_book: {len(failed)} of {len(rows)} page(s) FAILED (Chromium, network off):", file=sys.stderr)
        for name, failures in failed.items():
            for f in failures:
                print(f"  {name}: {f}", file=sys.stderr)
        return 1
    print(f"\ncheck_book: all {len(rows)} page(s) passed (headless Chromium, network off).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
