"""The book's ipywidgets render with no network (book/widgets.mk, nb_ipywidgets_js in _config.yml).

Builds a throwaway book with one notebook of standard widgets (executed by papermill, as
`make book` does) and the repository's `sphinx: config:`, then loads it in headless Chromium with
the network off (tools/check_book.py). As a negative control, the same book with myst-nb's
default CDN scripts must fail the check. Skipped without Chromium or without node_modules
(`make widgets-js` installs it). About 30 s.
"""

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WIDGETS_JS = {
    "require.js": ROOT / "node_modules/requirejs/require.js",
    "embed-amd.js": ROOT / "node_modules/@jupyter-widgets/html-manager/dist/embed-amd.js",
}
CHROMIUM = next(
    (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None
)
STATE = "application/vnd.jupyter.widget-state+json"

CELLS = [
    "import io\nimport ipywidgets as w\nimport matplotlib.pyplot as plt\nfrom IPython.display import display",
    # IntSlider, Dropdown, Label, HTML, an Output holding a matplotlib figure, in an HBox in a VBox
    'slider = w.IntSlider(value=3, min=0, max=10, description="n")\n'
    'drop = w.Dropdown(options=["a", "b", "c"], value="b", description="pick")\n'
    "out = w.Output()\n"
    "with out:\n"
    "    fig, ax = plt.subplots(figsize=(3, 2))\n"
    "    ax.plot([0, 1, 2], [0, 1, 4])\n"
    "    plt.show()\n"
    'w.VBox([w.HBox([w.Label("label"), slider]), drop, out, w.HTML("<b>html</b>")])',
    # an Image widget
    "buf = io.BytesIO()\n"
    "fig, ax = plt.subplots(figsize=(2, 2))\n"
    "ax.imshow([[0, 1], [1, 0]])\n"
    'fig.savefig(buf, format="png")\n'
    "plt.close(fig)\n"
    'display(w.Image(value=buf.getvalue(), format="png", width=100))',
    # a plain figure
    "fig, ax = plt.subplots(figsize=(3, 2))\nax.bar([1, 2, 3], [3, 1, 2])\nplt.show()",
]

pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (apt-get install chromium)"),
    pytest.mark.skipif(
        not all(p.is_file() for p in WIDGETS_JS.values()), reason="needs node_modules (make widgets-js)"
    ),
]


def _load_check_book():
    spec = importlib.util.spec_from_file_location("check_book", ROOT / "tools/check_book.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _run(*cmd, cwd):
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{cmd[:3]} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """The widget notebook, executed by papermill."""
    nbformat = pytest.importorskip("nbformat")
    pytest.importorskip("papermill")
    folder = tmp_path_factory.mktemp("widgets_nb")
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_markdown_cell("# Widgets offline")]
        + [nbformat.v4.new_code_cell(c) for c in CELLS],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    )
    nbformat.write(nb, folder / "widgets.ipynb")
    _run(sys.executable, "-m", "papermill", "widgets.ipynb", "executed.ipynb", "-k", "python3",
         "--log-level", "WARNING", cwd=folder)
    return folder / "executed.ipynb"


def _build(root: Path, executed: Path, offline: bool) -> Path:
    """A book in `root` laid out like ours, with our sphinx config (or the CDN default); its HTML."""
    import yaml

    sphinx = yaml.safe_load((ROOT / "_config.yml").read_text())["sphinx"]
    if not offline:
        sphinx["config"].pop("nb_ipywidgets_js")  # myst-nb's default: require.js and embed-amd.js from CDNs
    (root / "book/executed").mkdir(parents=True)
    shutil.copy(executed, root / "book/executed/widgets.ipynb")
    (root / "book/intro.md").write_text("# A throwaway book\n\nNo widgets on this page.\n")
    static = root / "book/_static"  # what book/widgets.mk does
    static.mkdir()
    for name, src in WIDGETS_JS.items():
        shutil.copy(src, static / name)
    (root / "_toc.yml").write_text("format: jb-book\nroot: book/intro\nchapters:\n  - file: book/executed/widgets\n")
    config = {
        "title": "widgets offline",
        "only_build_toc_files": True,
        "exclude_patterns": ["_build", "**.ipynb_checkpoints"],
        "execute": {"execute_notebooks": "off"},
        "sphinx": sphinx,
    }
    (root / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    _run(jupyter_book, "build", ".", "--warningiserror", "--nitpick", "--keep-going", cwd=root)
    return root / "_build/html"


def test_widget_state_saved_by_papermill(executed):
    import nbformat

    nb = nbformat.read(executed, as_version=4)
    state = nb.metadata["widgets"][STATE]["state"]
    modules = {(m["model_module"], m["model_module_version"]) for m in state.values()}
    # embed-amd.js of @jupyter-widgets/html-manager 1.x bundles exactly these (ipywidgets 8)
    assert modules <= {
        ("@jupyter-widgets/base", "2.0.0"),
        ("@jupyter-widgets/controls", "2.0.0"),
        ("@jupyter-widgets/output", "1.0.0"),
    }
    assert {"IntSliderModel", "DropdownModel", "OutputModel", "VBoxModel", "ImageModel"} <= {
        m["model_name"] for m in state.values()
    }


def test_config_loads_no_widget_script_from_a_cdn():
    import yaml

    scripts = yaml.safe_load((ROOT / "_config.yml").read_text())["sphinx"]["config"]["nb_ipywidgets_js"]
    assert set(scripts) == set(WIDGETS_JS)
    for attributes in scripts.values():
        assert not any("://" in v for v in attributes.values()), attributes


def test_widgets_render_offline(executed, tmp_path, capsys):
    html = _build(tmp_path, executed, offline=True)
    page = (html / "book/executed/widgets.html").read_text()
    assert "cdn.jsdelivr.net" not in page and "cdnjs.cloudflare.com" not in page
    assert _load_check_book().main([str(html), "--chromium", CHROMIUM]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("book/executed/widgets"))
    for kind in ("slider", "dropdown", "vbox", "hbox", "label", "html", "output", "image"):
        assert f" {kind}" in row, row
    assert "1->1 (+2 in widgets)" in row  # the plain figure; the figure in the Output and the Image


def test_cdn_scripts_fail_offline(executed, tmp_path, capsys):
    """Negative control: the CDN scripts cannot load with no network, so nothing renders."""
    html = _build(tmp_path, executed, offline=False)
    assert _load_check_book().main([str(html), "--chromium", CHROMIUM]) == 1
    err = capsys.readouterr().err
    assert "2 widget view(s) on the page, 0 rendered" in err
    assert "widget script loaded from the network" in err
