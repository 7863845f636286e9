"""One list of settings: ``kasda/settings.py`` is the only code that reads the environment, the
README's configuration tables are its tables, and every variable is parsed there once."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateways.config import ConfigError
from kasda.settings import LIBRARY_SETTINGS, Settings, library_table, table, variables
from ledger.errors import InvalidInput
from ledger.store import env_for_url, store_options

ROOT = Path(__file__).resolve().parent.parent
# Shipped in the wheel (pyproject's packages): only the settings module reads the environment.
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
SETTINGS_MODULE = ROOT / "kasda" / "settings.py"
# The test harness: it may read its own knobs (CI, PYTEST_XDIST_WORKER, KASDA_SCHEMATHESIS_*,
# BENCH_DIR) and pass the environment on to subprocesses, but a variable of kasda's table it
# gets from ``Settings``, as kasda does.
HARNESS = ("tests", "benchmarks")
ENVIRONMENT = {"environ", "environb", "getenv", "getenvb", "putenv", "unsetenv"}
NAMES = {column.metadata["variable"] for column in variables()}


def _sources(*folders: str) -> Iterator[Path]:
    for folder in folders:
        yield from sorted((ROOT / folder).rglob("*.py"))


def _os_names(tree: ast.Module) -> set[str]:
    """The names this module binds to the ``os`` module (``import os``, ``import os as x``)."""
    return {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
        if alias.name == "os"
    }


def _environment_uses(tree: ast.Module) -> Iterator[tuple[int, ast.AST]]:
    """Every ``os.environ``, ``os.getenv`` (...) and ``from os import environ`` of a module."""
    names = _os_names(tree)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr in ENVIRONMENT
            and isinstance(node.value, ast.Name)
            and node.value.id in names
        ):
            yield node.lineno, node
        if (
            isinstance(node, ast.ImportFrom)
            and node.module == "os"
            and any(alias.name in ENVIRONMENT for alias in node.names)
        ):
            yield node.lineno, node


def _variable_read(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> str | None:
    """The literal name read at this use of the environment: ``os.environ.get("X")``,
    ``os.environ["X"]``, ``"X" in os.environ`` or ``os.getenv("X")``; None otherwise."""
    parent = parents.get(node)
    if isinstance(parent, ast.Attribute) and parent.attr == "get":  # os.environ.get(...)
        parent = parents.get(parent)
    candidates: list[ast.expr] = []
    if isinstance(parent, ast.Call) and parent.args:
        candidates.append(parent.args[0])
    if isinstance(parent, ast.Subscript):
        candidates.append(parent.slice)
    if isinstance(parent, ast.Compare):
        candidates.append(parent.left)
    for candidate in candidates:
        if isinstance(candidate, ast.Constant) and isinstance(candidate.value, str):
            return candidate.value
    return None


def _parents(tree: ast.Module) -> dict[ast.AST, ast.AST]:
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def test_only_the_settings_module_reads_the_environment() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in _sources(*PRODUCT)
        if path != SETTINGS_MODULE
        for line, _ in _environment_uses(ast.parse(path.read_text(), str(path)))
    ]
    assert found == [], "read the variable in kasda/settings.py and pass the value down"


def test_tests_and_benchmarks_take_kasdas_variables_from_the_settings() -> None:
    found = []
    for path in _sources(*HARNESS):
        tree = ast.parse(path.read_text(), str(path))
        parents = _parents(tree)
        for line, node in _environment_uses(tree):
            if _variable_read(node, parents) in NAMES:
                found.append(f"{path.relative_to(ROOT)}:{line}")
    assert found == [], "use Settings.from_env() for a variable of kasda/settings.py"


def test_the_scan_finds_every_way_of_reading() -> None:
    """The guard itself: each form of reading is caught, and a harness knob is told apart."""
    source = (
        "import os\nimport os as system\nfrom os import getenv\n"
        "a = os.environ.get('KASDA_TIMEZONE')\nb = system.environ['KASDA_DATABASE_URL']\n"
        "c = os.getenv('KASDA_CIPHER_KEY')\nd = 'KASDA_RECON_OUT' in os.environ\n"
        "e = os.environ.get('CI')\nf = {**os.environ}\n"
    )
    tree = ast.parse(source)
    parents = _parents(tree)
    uses = sorted(_environment_uses(tree), key=lambda use: use[0])
    assert [line for line, _ in uses] == [3, 4, 5, 6, 7, 8, 9]
    reads = [_variable_read(node, parents) for _, node in uses]
    assert reads == [
        None,
        "KASDA_TIMEZONE",
        "KASDA_DATABASE_URL",
        "KASDA_CIPHER_KEY",
        "KASDA_RECON_OUT",
        "CI",
        None,
    ]


def _readme_table(header: str) -> list[str]:
    lines = (ROOT / "README.md").read_text().splitlines()
    assert header in lines, f"the README has no table headed {header!r}"
    start = lines.index(header)
    end = start
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    return lines[start:end]


def test_the_readme_table_is_the_settings_table() -> None:
    ours = table()
    readme = _readme_table(ours[0])
    names = [row.split("|")[1].strip().strip("`") for row in readme[2:]]
    assert names == [column.metadata["variable"] for column in variables()]
    assert readme == ours, "paste the output of `python -m kasda.settings` into the README"


def test_the_readme_lists_the_library_settings_kasda_sets() -> None:
    assert _readme_table(library_table()[0]) == library_table()


def test_the_library_settings_are_the_ones_the_store_sets() -> None:
    """Every setting of the library that ``env_for_url`` sets is in the table, and no other."""
    options = store_options(cipher_key=Settings(cipher_key="A" * 43 + "=").cipher_key)
    urls = ("memory://", "sqlite:///kasda.db", "postgresql://u:p@db:5433/kasda?schema=s")
    made = {name for url in urls for name in env_for_url(url, options)} - NAMES
    assert made == {s.name for s in LIBRARY_SETTINGS}


def test_defaults_and_an_empty_environment_agree() -> None:
    assert Settings.from_env({}) == Settings()
    blank = {name: " " for name in NAMES}  # an empty value counts as unset
    assert Settings.from_env(blank) == Settings()
    assert Settings.from_env({"UNRELATED": "x"}) == Settings()


def test_values_are_parsed_once_into_their_types() -> None:
    settings = Settings.from_env(
        {
            "KASDA_DB_STATEMENT_TIMEOUT": "1.5",
            "KASDA_DB_CONNECT_TIMEOUT": "2",
            "KASDA_API_THREADS": "8",
            "KASDA_MIDTRANS_PRODUCTION": "no",
            "KASDA_TIMEZONE": "Asia/Makassar",
        }
    )
    assert (settings.db_statement_timeout, settings.db_connect_timeout) == (1.5, 2.0)
    assert (settings.api_threads, settings.midtrans_production) == (8, False)
    assert settings.timezone == "Asia/Makassar"
    env = settings.ledger_env()
    assert (env["POSTGRES_STATEMENT_TIMEOUT"], env["POSTGRES_CONNECT_TIMEOUT"]) == ("1.5", "2")


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("KASDA_DB_STATEMENT_TIMEOUT", "soon", "is not a number of seconds"),
        ("KASDA_DB_CONNECT_TIMEOUT", "0", "use a number of seconds in (0, 3600]"),
        ("KASDA_API_THREADS", "0", "must be an integer in 1..256"),
        ("KASDA_JWT_MAX_LIFETIME", "1h", "must be a number of seconds"),
        ("KASDA_MIDTRANS_PRODUCTION", "maybe", "must be true or false"),
        ("KASDA_GATEWAY_TIMEOUT", "ten", "must be a number of seconds"),
        ("KASDA_TIMEZONE", "Mars/Olympus", "is not a time zone"),
        ("KASDA_FEED_MAX_ATTEMPTS", "0", "must be an integer in 1..100"),
        ("KASDA_FEED_DISPATCH", "sometimes", "must be true or false"),
        ("KASDA_FEED_TIMEOUT", "soon", "must be a number of seconds"),
    ],
)
def test_a_malformed_value_names_its_variable(name: str, value: str, words: str) -> None:
    with pytest.raises(InvalidInput, match=name) as error:
        Settings.from_env({name: value})
    assert words in str(error.value)
    assert isinstance(error.value, ConfigError)  # as the gateways' configuration errors are


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("KASDA_FEED_KEY", "short", "at least 32 bytes"),
        ("KASDA_FEED_TIMEOUT", "0", "KASDA_FEED_TIMEOUT must be in (0, 60]"),
        ("KASDA_FEED_BACKOFF", "600", "at most KASDA_FEED_BACKOFF_MAX"),
    ],
)
def test_the_feed_settings_hold(tmp_path: Path, name: str, value: str, words: str) -> None:
    environ = {"KASDA_JWT_SECRET": "s" * 48, name: value}
    with pytest.raises(InvalidInput, match=name) as error:
        Settings.from_env(environ).api()
    assert words in str(error.value)


def test_the_feed_key_is_set_or_derived_and_the_dispatcher_on_by_default() -> None:
    derived = Settings.from_env({"KASDA_JWT_SECRET": "s" * 48}).api().events
    assert derived.dispatch and len(derived.key) == 64
    chosen = Settings.from_env(
        {"KASDA_JWT_SECRET": "s" * 48, "KASDA_FEED_KEY": "k" * 32, "KASDA_FEED_DISPATCH": "false"}
    ).api()
    assert (chosen.events.key, chosen.events.dispatch) == ("k" * 32, False)
    other = Settings.from_env({"KASDA_JWT_SECRET": "t" * 48}).api().events
    assert other.key != derived.key  # derived from the JWT secret, never equal to it
    assert derived.key != "s" * 48


def test_the_api_gets_the_store_options_and_the_time_zone(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "KASDA_JWT_SECRET_FILE": str(tmp_path / "jwt.key"),
            "KASDA_CIPHER_KEY": "key",
            "KASDA_TIMEZONE": "Asia/Jayapura",
            "KASDA_DB_STATEMENT_TIMEOUT": "3",
        }
    )
    api = settings.api()
    assert api.timezone == "Asia/Jayapura"
    assert api.ledger_env == settings.ledger_env()
    assert api.ledger_env["KASDA_CIPHER_KEY"] == "key"
    assert api.ledger_env["POSTGRES_STATEMENT_TIMEOUT"] == "3.0"


@pytest.mark.postgres
def test_the_bounds_reach_every_postgresql_connection(pg_schema_url: str) -> None:
    """The writer's pool and the read models' connections wait as long as the settings say."""
    from ledger.connections import connect

    settings = Settings.from_env(
        {"KASDA_DB_STATEMENT_TIMEOUT": "1.5", "KASDA_DB_CONNECT_TIMEOUT": "3"}
    )
    ledger = settings.open_ledger(pg_schema_url)
    try:
        pool = ledger.factory.datastore.pool  # type: ignore[attr-defined]
        assert (pool.connection_class.answer_timeout, pool.kwargs["connect_timeout"]) == (1.5, 3)
        with pool.connection() as conn:
            assert (
                conn.execute("SHOW statement_timeout").fetchone()["statement_timeout"] == "1500ms"
            )
        with connect(ledger.env) as conn:
            assert conn.execute("SHOW statement_timeout").fetchone() == ("1500ms",)
    finally:
        ledger.close()
