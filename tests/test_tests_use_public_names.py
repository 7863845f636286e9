"""Tests use what the product offers, not its insides: no test (nor the support code of tests in
``testkit/``) reads or writes a private attribute of an object (``ledger._cache``), or imports a
private name (``from kasda.export import _x``).

A test that needs to see more asks for a public name made for the purpose (``ledger.replay.
check_replay``, ``BatchWriter.waiting``) or checks through the public function that uses the
private one (``export.body_matches_state``), so that a refactoring that keeps behaviour keeps the
tests green. A test's own helper classes use their own privates through ``self`` / ``cls``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

TESTS = Path(__file__).parent
# The tests and the support code they share with the benchmarks (where it exists).
SCANNED = [folder for folder in (TESTS, TESTS.parent / "testkit") if folder.is_dir()]

# Private-looking names that are public API, each with the reason.
ALLOWED_ATTRIBUTES = {
    # namedtuple's methods start with "_" only so as not to clash with field names.
    "_replace",
    "_asdict",
    "_fields",
    "_make",
    # eventsourcing's class method that creates an aggregate from its created-event class, the
    # library's way to give a new aggregate a chosen id (``Aggregate._create``).
    "_create",
}
ALLOWED_EXPRESSIONS = {
    "os._exit",  # leave a child process at once, without running the parent's cleanup
}
OWN = {"self", "cls"}  # a test's own helper classes
REFLECTION = {"getattr", "setattr", "delattr", "hasattr"}


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _named_by_string(node: ast.Call) -> str | None:
    """The attribute a reflective call names: ``getattr(x, "_a")``, ``monkeypatch.setattr(x,
    "_a", v)`` or ``monkeypatch.setattr("pkg.module._a", v)``."""
    function = node.func
    called = function.id if isinstance(function, ast.Name) else None
    if isinstance(function, ast.Attribute) and function.attr in ("setattr", "delattr"):
        called = function.attr  # monkeypatch.setattr and friends
    if called not in REFLECTION:
        return None
    for arg in node.args[:2]:
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            return arg.value.rsplit(".", 1)[-1]
    return None


def private_reaches(source: str) -> list[str]:
    """Each place in ``source`` that reaches a private name, as ``line: code``, in line order."""
    found = sorted(_reaches(ast.parse(source)))
    return [f"{line}: {code}" for line, code in found]


def _reaches(tree: ast.AST) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        found: str | None = None
        if isinstance(node, ast.Attribute) and _private(node.attr):
            own = isinstance(node.value, ast.Name) and node.value.id in OWN
            allowed = node.attr in ALLOWED_ATTRIBUTES or ast.unparse(node) in ALLOWED_EXPRESSIONS
            if not own and not allowed:
                found = ast.unparse(node)
        elif isinstance(node, ast.ImportFrom):
            names = [a.name for a in node.names if _private(a.name)]
            if names:
                found = f"from {node.module} import {', '.join(names)}"
        elif isinstance(node, ast.Call):
            named = _named_by_string(node)
            if named is not None and _private(named):
                found = ast.unparse(node)
        if found is not None:
            yield getattr(node, "lineno", 0), found


def test_no_test_reaches_into_a_private_attribute() -> None:
    reaches = [
        f"{path.relative_to(TESTS.parent)}:{reach}"
        for folder in SCANNED
        for path in sorted(folder.rglob("*.py"))
        for reach in private_reaches(path.read_text(encoding="utf-8"))
    ]
    assert reaches == [], "expose what the test needs instead:\n" + "\n".join(reaches)


def test_the_scan_finds_every_way_of_reaching_in() -> None:
    source = """
import os
from kasda.export import _plain_json, plain_json
held = ledger._cache._items
writer._pending.append(1)
getattr(writer, "_pending")
monkeypatch.setattr(export, "_plain_json", print)
monkeypatch.setattr("api.writer._pending", [])
os._exit(0)
row._replace(a=1)
self._helper()
cls._table
type(event).__qualname__
getattr(package, name)
"""
    assert [reach.split(": ", 1)[1] for reach in private_reaches(source)] == [
        "from kasda.export import _plain_json",
        "ledger._cache",
        "ledger._cache._items",
        "writer._pending",
        "getattr(writer, '_pending')",
        "monkeypatch.setattr(export, '_plain_json', print)",
        "monkeypatch.setattr('api.writer._pending', [])",
    ]
