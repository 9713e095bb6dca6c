"""Notebook parameters as papermill sets them: refuse a misspelt name or a value of the wrong type, early.

Papermill injects ``-p name value`` as a cell of assignments right after the notebook's cell tagged
``parameters``, whatever the names; a misspelt one is silently ignored and the notebook runs with the
default. :func:`check_parameters`, called first thing after that cell, compares the two cells (read
back from IPython's input history) and raises a clear error instead.
"""
from __future__ import annotations

import ast

__all__ = ["check_parameters"]

INJECTED_MARK = "# Parameters"  # the first line of the cell papermill injects


def _assignments(source: str) -> dict[str, object]:
    """name -> literal value (or None when not a literal) of the top-level assignments in a cell."""
    values = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    try:
                        values[target.id] = ast.literal_eval(node.value)
                    except ValueError:
                        values[target.id] = None
    return values


def _same_kind(default: object, value: object) -> bool:
    if default is None or value is None:
        return True
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(default, bool) and isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float))
    return isinstance(value, type(default))


def check_parameters(cells: list[str] | None = None) -> None:
    """Raise ``ValueError`` if papermill injected a parameter the notebook does not declare, or a value of another
    type than the declared default. ``cells``: the sources run so far (default: IPython's input history)."""
    if cells is None:
        from IPython import get_ipython
        shell = get_ipython()
        cells = list(shell.user_ns.get("In", [])) if shell is not None else []
    injected = [i for i, source in enumerate(cells) if source.lstrip().startswith(INJECTED_MARK)]
    if not injected or injected[-1] == 0:
        return  # run by hand, not by papermill with -p
    declared = _assignments(cells[injected[-1] - 1])
    given = _assignments(cells[injected[-1]])
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise ValueError(f"unknown parameter{'s' * (len(unknown) > 1)} {', '.join(map(repr, unknown))}: this notebook "
                         f"takes {', '.join(declared)}")
    for name, value in given.items():
        if not _same_kind(declared[name], value):
            raise ValueError(f"parameter {name!r} must be of type {type(declared[name]).__name__}, like its default "
                             f"{declared[name]!r}, but got {value!r}")
