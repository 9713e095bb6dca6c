"""tools/check_book.py's static scan: Markdown that did not render and tracebacks in outputs are caught."""
import importlib.util
import sys
from pathlib import Path

spec = importlib.util.spec_from_file_location("check_book", Path(__file__).parents[1] / "tools" / "check_book.py")
check_book = importlib.util.module_from_spec(spec)
sys.modules["check_book"] = check_book  # its dataclasses look their module up there
spec.loader.exec_module(check_book)


def output(inner: str) -> str:
    return f'<div class="cell_output docutils container"><div class="output text_markdown">{inner}</div></div>'


def test_markdown_shown_as_text_is_caught():
    raw_table = output("<p>| dataset | classes | source |\n|---|---|---|\n| <code>mnist</code> | 10 | official |</p>")
    assert check_book.scan_html(raw_table).raw_markdown
    assert check_book.scan_html(output("<p>**2 of 6 networks did not learn** their task</p>")).raw_markdown


def test_rendered_markdown_and_code_pass():
    rendered = output("<table><tr><th>dataset</th></tr><tr><td>mnist</td></tr></table><p><strong>2</strong> of 6</p>")
    code = output("<pre>| a | b |\n|---|---|</pre>")
    prose = "<p>| not an output | a | b |</p>"  # page text outside cell outputs is not checked
    assert not any(check_book.scan_html(h).raw_markdown for h in (rendered, code, prose))


def test_tracebacks_in_outputs_are_counted():
    assert check_book.scan_html(output("<pre>Traceback (most recent call last):\n  ...</pre>")).tracebacks == 1


def test_nan_in_an_output_is_caught():
    assert check_book.scan_html(output("<table><tr><td>NaN</td><td>0.5</td></tr></table>")).nans == ["NaN"]
    assert not check_book.scan_html(output("<table><tr><td>—</td><td>NaNo</td></tr></table>")).nans
