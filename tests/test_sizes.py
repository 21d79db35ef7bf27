"""Sizes a reader can hold in mind: no module over 300 lines, no class over 150, no function
over 60 (the emulator's fact data aside: it is data, not code)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "catfacts"
MODULE_LINES, CLASS_LINES, FUNCTION_LINES = 300, 150, 60
EXCEPTED = {"emulator/facts.py"}


def modules() -> Iterator[tuple[str, str]]:
    """(path under catfacts/, source) of every module but the excepted ones."""
    for path in sorted(PACKAGE.rglob("*.py")):
        name = path.relative_to(PACKAGE).as_posix()
        if name not in EXCEPTED:
            yield name, path.read_text("utf-8")


def lines(node: ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """From its first decorator to its last line."""
    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    return (node.end_lineno or node.lineno) - first + 1


def oversized() -> list[str]:
    found = []
    for name, source in modules():
        if (count := len(source.splitlines())) > MODULE_LINES:
            found.append(f"{name}: module, {count} lines (at most {MODULE_LINES})")
        for node in ast.walk(ast.parse(source, name)):
            if isinstance(node, ast.ClassDef) and lines(node) > CLASS_LINES:
                limit, kind = CLASS_LINES, "class"
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                limit, kind = FUNCTION_LINES, "function"
            else:
                continue
            if lines(node) > limit:
                found.append(f"{name}:{node.lineno}: {kind} {node.name}, {lines(node)} lines")
    return found


def test_no_module_class_or_function_is_too_long_to_read() -> None:
    found = oversized()
    assert not found, "too long to read:\n" + "\n".join(found)
