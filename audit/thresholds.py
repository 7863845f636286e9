"""Thresholds and windows of the rules, per pemda, from TOML.

``audit/thresholds.toml`` holds the defaults kasda ships, one table per rule (or per shared limit,
like ``procurement``), each with the ``source`` of its figures: the regulation, or "kasda default"
where the law names none. A pemda's file (``KASDA_REDFLAGS_FILE``) overrides any value at the top
level for every pemda it serves, or under ``[pemda."<code>".<table>]`` for one. An override may
only set a key the defaults have, with a value of the same type: a misspelt key or a limit written
as text is refused when the file is read, not ignored at night.

A run records the thresholds it used and their digest; the same position under the same digest is
the same run (``ledger.redflags``).
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

from ledger.errors import InvalidInput

MAX_FILE_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The effective thresholds of one pemda: ``values[table][key]``, and each table's source."""

    values: Mapping[str, Mapping[str, Any]]
    sources: Mapping[str, str] = field(default_factory=dict)

    def __getitem__(self, table: str) -> Mapping[str, Any]:
        return self.values[table]

    def int(self, table: str, key: str) -> int:
        value = self.values[table][key]
        assert type(value) is int, (table, key, value)
        return value

    def number(self, table: str, key: str) -> float:
        """A ratio or a score (never money): an int or a float in the file."""
        value = self.values[table][key]
        assert isinstance(value, (int, float)) and not isinstance(value, bool), (table, key)
        return float(value)

    def strings(self, table: str, key: str) -> tuple[str, ...]:
        value = self.values[table][key]
        assert isinstance(value, list), (table, key, value)
        return tuple(value)

    def as_dict(self) -> dict[str, dict[str, Any]]:
        return {t: dict(v) for t, v in sorted(self.values.items())}

    @property
    def digest(self) -> str:
        raw = json.dumps(self.as_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(raw.encode()).hexdigest()


def _defaults_text() -> str:
    return files("audit").joinpath("thresholds.toml").read_text(encoding="utf-8")


def _split(document: Mapping[str, Any]) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    values: dict[str, dict[str, Any]] = {}
    sources: dict[str, str] = {}
    for table, body in document.items():
        if table == "pemda":
            continue
        if not isinstance(body, dict):
            raise InvalidInput(f"red-flag thresholds: [{table}] must be a table")
        sources[table] = str(body.get("source", ""))
        values[table] = {k: v for k, v in body.items() if k != "source"}
    return values, sources


def _same_type(default: Any, value: Any) -> bool:
    if isinstance(default, bool) or isinstance(value, bool):
        return type(default) is type(value)
    if isinstance(default, float):
        return isinstance(value, (int, float))
    if isinstance(default, list):
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    return type(default) is type(value)


def _override(values: dict[str, dict[str, Any]], tables: Mapping[str, Any], where: str) -> None:
    for table, body in tables.items():
        if table not in values:
            raise InvalidInput(f"red-flag thresholds{where}: unknown table [{table}]")
        if not isinstance(body, dict):
            raise InvalidInput(f"red-flag thresholds{where}: [{table}] must be a table")
        for key, value in body.items():
            if key == "source":
                continue
            if key not in values[table]:
                raise InvalidInput(f"red-flag thresholds{where}: [{table}] has no key {key!r}")
            if not _same_type(values[table][key], value):
                raise InvalidInput(
                    f"red-flag thresholds{where}: [{table}] {key} must be like "
                    f"{values[table][key]!r}, got {value!r}"
                )
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
                raise InvalidInput(f"red-flag thresholds{where}: [{table}] {key} is negative")
            values[table][key] = value


def load(pemda: str, path: str | Path | None = None) -> Thresholds:
    """The thresholds of ``pemda``: the defaults, overridden by the file at ``path`` if given."""
    values, sources = _split(tomllib.loads(_defaults_text()))
    if path is not None:
        raw = Path(path).read_bytes()
        if len(raw) > MAX_FILE_BYTES:
            raise InvalidInput(f"red-flag thresholds file {path} is over {MAX_FILE_BYTES} bytes")
        try:
            document = tomllib.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
            raise InvalidInput(f"red-flag thresholds file {path}: {error}") from error
        _override(values, {k: v for k, v in document.items() if k != "pemda"}, f" ({path})")
        per_pemda = document.get("pemda", {})
        if not isinstance(per_pemda, dict):
            raise InvalidInput(f"red-flag thresholds ({path}): [pemda] must be a table")
        mine = per_pemda.get(pemda, {})
        _override(values, mine, f" ({path}, pemda {pemda})")
    return Thresholds(values, sources)


def defaults() -> Thresholds:
    return load("-")
