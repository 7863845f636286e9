"""The product holds no demo or test scaffolding and imports none.

The demo lives in ``kasda/demo/``, the support of tests and benchmarks in ``testkit/``. No module of
a product package imports either (or the tests and benchmarks themselves, or ``kasda`` at all: the
command line and wiring import the product, not the reverse), the command line takes
nothing from the test support, the modules that moved out are gone from the product, and the
package discovery of ``pyproject.toml`` leaves the test support out of what is installed."""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterator
from fnmatch import fnmatchcase
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = (
    "ledger",
    "projections",
    "api",
    "web",
    "audit",
    "opendata",
    "gateways",
    "reconciliation",
    "feed",
    "exports",
)
DEMO = "kasda.demo"
TEST_SUPPORT = ("testkit", "tests", "benchmarks")
# Scaffolding that once lived in the product, and where it lives now.
MOVED_OUT = {
    "api.testing": "testkit.api",
    "gateways.demo_hook": "kasda.demo.gateway",
    "reconciliation.generate": "testkit.reconciliation",
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(*packages: str) -> Iterator[tuple[str, Path]]:
    for package in packages:
        for path in sorted((ROOT / package.replace(".", "/")).rglob("*.py")):
            yield module_name(path), path


def imported(name: str, path: Path) -> set[str]:
    """Every module ``path`` imports, at any depth of its code (a function's import too), with
    relative imports resolved; ``from a import b`` counts as ``a`` and ``a.b``."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return found


def within(module: str, roots: tuple[str, ...]) -> bool:
    return any(module == root or module.startswith(root + ".") for root in roots)


def offending_imports(
    packages: tuple[str, ...], forbidden: tuple[str, ...], skip: tuple[str, ...] = ()
) -> list[str]:
    """``"<module> imports <target>"`` for every import of ``forbidden`` by a module of
    ``packages`` (but those of ``skip``)."""
    return [
        f"{name} imports {target}"
        for name, path in modules(*packages)
        if not within(name, skip)
        for target in sorted(imported(name, path))
        if within(target, forbidden)
    ]


def test_no_product_module_imports_the_demo_or_the_test_support() -> None:
    forbidden = (DEMO, *TEST_SUPPORT, *MOVED_OUT)
    assert offending_imports(PRODUCT, forbidden) == []


def test_no_product_module_imports_the_command_line() -> None:
    """``kasda`` is the command line and the wiring: it imports the product, never the other way
    round (a page that needs a step of ``kasda reconcile`` takes it from ``reconciliation``)."""
    assert offending_imports(PRODUCT, ("kasda",)) == []


def test_the_feed_sits_outside_the_ledger_and_its_read_side() -> None:
    """``feed/`` (CloudEvents, signatures, the dispatcher's HTTP client) builds on the ledger and
    the read models; they never import it, nor does it import the API or the pages that serve it.
    The feed reads the read models only: nothing of it touches the ledger's write path."""
    assert offending_imports(("ledger", "projections"), ("feed",)) == []
    assert offending_imports(("feed",), ("api", "web", "gateways")) == []
    writes = ("ledger.handlers", "ledger.commands", "ledger.unit_of_work", "api.writer")
    assert offending_imports(("feed",), writes) == []


def test_the_command_line_takes_nothing_from_the_test_support() -> None:
    """``kasda serve`` and the other commands run the product (and ``kasda demo`` the demo), never
    a test module: the demo's sign-in users live in the demo package."""
    assert offending_imports(("kasda",), (*TEST_SUPPORT, *MOVED_OUT), skip=(DEMO,)) == []


def test_the_demo_takes_nothing_from_the_test_support() -> None:
    assert offending_imports((DEMO,), (*TEST_SUPPORT, *MOVED_OUT)) == []


def test_the_scaffolding_that_moved_out_is_gone_from_the_product() -> None:
    left = {old: new for old, new in MOVED_OUT.items() if old in dict(modules(*PRODUCT))}
    assert left == {}, f"move these to their home: {left}"


def test_what_is_installed_is_the_product_and_the_demo() -> None:
    """``pip install .`` ships the product packages and ``kasda`` (with its demo), not the test
    support: tests and benchmarks import ``testkit`` from the source tree."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    find = config["tool"]["setuptools"]["packages"]["find"]
    include, exclude = find.get("include", ["*"]), find.get("exclude", [])
    packages = {
        module_name(p.parent) for p in ROOT.glob("*/**/__init__.py") if ".venv" not in p.parts
    }
    # setuptools' rule: a package ships if a pattern of ``include`` matches its dotted name and
    # none of ``exclude`` does.
    shipped = {
        name
        for name in packages
        if any(fnmatchcase(name, x) for x in include)
        and not any(fnmatchcase(name, x) for x in exclude)
    }
    assert {*PRODUCT, "kasda", DEMO} <= shipped
    assert not [name for name in shipped if within(name, TEST_SUPPORT)]
