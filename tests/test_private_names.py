"""A name that starts with ``_`` belongs to its module: no product module imports one from another
module or reaches into one through a module it imported. What two modules share is public in one
place (e.g. ``reconciliation.expressions`` for the in-memory and the partitioned reconciliation)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = (
    "ledger",
    "projections",
    "api",
    "web",
    "audit",
    "opendata",
    "feed",
    "gateways",
    "reconciliation",
    "exports",
    "kasda",
)


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _first_party(module: str) -> bool:
    return module.partition(".")[0] in PRODUCT


def private_imports(source: str, where: str) -> list[str]:
    """``where:line: module._name`` for each private name of another kasda module that ``source``
    imports (``from module import _name``) or reads (``import module`` then ``module._name``)."""
    tree = ast.parse(source, filename=where)
    imported = [
        f"{where}:{node.lineno}: {node.module}.{alias.name}"
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.level == 0 and _first_party(node.module or "")
        for alias in node.names
        if _private(alias.name)
    ]
    names = _kasda_names(tree)
    reached = [
        f"{where}:{node.lineno}: {names[node.value.id]}.{node.attr}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and _private(node.attr)
        and isinstance(node.value, ast.Name)
        and node.value.id in names
    ]
    return imported + reached


def _kasda_names(tree: ast.Module) -> dict[str, str]:
    """Local name -> the kasda module (or a public name of one) it is bound to by an import."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and _first_party(node.module or ""):
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                local = alias.asname or alias.name.partition(".")[0]
                if _first_party(alias.name):
                    names[local] = alias.name if alias.asname else local
    return names


def test_no_product_module_imports_a_private_name_of_another() -> None:
    files = [p for package in PRODUCT for p in sorted((ROOT / package).rglob("*.py"))]
    assert len(files) > 50  # the packages were found
    offences = [
        line
        for path in files
        for line in private_imports(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    ]
    assert offences == [], "private names used outside their module:\n" + "\n".join(offences)


def test_the_check_sees_both_ways_of_reaching_in() -> None:
    source = (
        "import argparse\n"
        "from reconciliation.matching import _rank, reconcile\n"
        "import reconciliation.matching as m\n"
        "from reconciliation import matching\n"
        "x = m._once\n"
        "y = matching._mask\n"
        "z = argparse._SubParsersAction  # another project's business\n"
        "def f(self):\n"
        "    return self._own\n"
    )
    assert private_imports(source, "probe.py") == [
        "probe.py:2: reconciliation.matching._rank",
        "probe.py:5: reconciliation.matching._once",
        "probe.py:6: reconciliation.matching._mask",
    ]
