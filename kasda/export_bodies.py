"""The body check of ``verify --export`` for the common case, column-wise (issue 17).

The exporter writes each event's ``body`` as ``json.dumps(plain_json(json.loads(state)),
sort_keys=True)``; the stored bytes are the library's compact JSON, in the event's own key order,
with each datetime as ``{"_type_":"datetime_iso","_data_":"..."}``. For most of kasda's events the
stored JSON is one flat object whose values are printable-ASCII strings, integers, true, false,
null or such datetimes. For those, the body the exporter writes is a plain rearrangement of the
stored text: the datetime wrappers dropped, the members in sorted key order, ``": "`` and ``", "``
between them. Polars makes that text from every stored body of a slice at once (one anchored
pattern per event shape, then literal replacements, the members in key order, joined), and
compares it with ``body`` byte for byte.

Equal text is the exact check's verdict: the pattern admits only values whose text ``json.dumps``
writes back unchanged, so equal text means ``json.loads(body) == plain_json(json.loads(state))``,
provided each datetime's text is what ``isoformat`` writes for it, which ``datetime`` itself checks
(each distinct one once). Any row that is not vouched for here (nested values, other text, a body
that differs) gets the exact per-row check, as before.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

import orjson
import polars as pl

_ISO = r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{6})?(?:[+-][0-9]{2}:[0-9]{2})?"
_WRAPPED = '{"_type_":"datetime_iso","_data_":'  # what a datetime's text is wrapped in
_DATETIME = re.escape(_WRAPPED) + f'"{_ISO}"' + r"\}"
_TEXT = r'"[\x20\x21\x23-\x5b\x5d-\x7e]*"'  # printable ASCII without " or \: JSON writes it as is
_SCALAR = rf"(?:{_TEXT}|-?(?:0|[1-9][0-9]*)|true|false|null)"  # also every key: all are tokens
_VALUE = rf"(?:{_DATETIME}|{_SCALAR})"
_PLAIN = (str, int, bool, type(None))
SHAPES = 8  # event shapes tried per topic and slice; the rest of its rows are checked one by one


def bodies_as_stored(states: pl.Series, bodies: pl.Series, topics: pl.Series) -> pl.Series:
    """Per row, True where ``bodies`` is, byte for byte, the body the exporter writes for
    ``states`` (the stored bytes); False where the row needs the exact per-row check."""
    vouched = pl.Series("vouched", [False] * len(states))
    try:
        texts = states.cast(pl.String)  # stored bytes that are not UTF-8 (encrypted): per row
    except pl.exceptions.PolarsError:
        return vouched
    rows = pl.DataFrame({"text": texts, "body": bodies, "topic": topics}).with_row_index("row")
    found: list[pl.Series] = []
    for part in rows.partition_by("topic", maintain_order=False):
        pending = part
        for _ in range(SHAPES):
            if pending.height == 0:
                break
            shape = Shape.of(pending["text"][0])
            if shape is None:  # not JSON of plain values: this row is checked on its own
                pending = pending.slice(1)
                continue
            fits = pending.select(pl.col("text").str.contains(shape.pattern)).to_series()
            matched, pending = pending.filter(fits), pending.filter(~fits)
            tokens = pl.col("text").str.replace_all(_WRAPPED, "", literal=True)
            matched = matched.with_columns(tokens.str.extract_all(_SCALAR).alias("tokens"))
            same = matched.select(shape.body() == pl.col("body")).to_series()
            found.append(matched.filter(same)["row"])
    if not found:
        return vouched
    at = pl.concat(found)
    if not _datetimes_round_trip(rows["text"].gather(at)):
        return vouched
    return vouched.scatter(at, True)


class Shape:
    """One shape of stored JSON: its keys, nesting and list lengths. ``pattern`` matches the
    stored texts of the shape (anchored, a value pattern at each leaf); the text tokens of such a
    text (its keys and plain values, a datetime's text once its wrapper is dropped) come in a fixed
    order, and ``body()`` puts the values' tokens between the literal parts of the body."""

    def __init__(self) -> None:
        self.pieces: list[str] = []  # of the pattern
        self.tokens = 0  # tokens of the stored text so far
        self.leaves: dict[tuple[Any, ...], int] = {}  # a leaf's path -> its token's index
        self.literals: list[str] = [""]  # of the body, around its values
        self.order: list[int] = []  # the values' tokens, in the body's order

    @classmethod
    def of(cls, text: str) -> Shape | None:
        try:
            stored: Any = orjson.loads(text)
        except orjson.JSONDecodeError:
            return None
        shape = cls()
        if not shape._stored(stored, ()):
            return None
        shape._body(stored, ())
        return shape

    @property
    def pattern(self) -> str:
        return "^" + "".join(self.pieces) + "$"

    def _stored(self, value: Any, path: tuple[Any, ...]) -> bool:
        """The pattern, in the stored order (the library's compact JSON)."""
        if type(value) in _PLAIN or _wrapped(value):
            self.pieces.append(_VALUE)
            self.leaves[path] = self.tokens
            self.tokens += 1
            return True
        if type(value) is dict and "_type_" not in value:  # any other wrapper: per row
            self.pieces.append(r"\{")
            for n, (key, inner) in enumerate(value.items()):
                if type(key) is not str or not re.fullmatch(_TEXT, json.dumps(key)):
                    return False
                self.pieces.append(("," if n else "") + re.escape(json.dumps(key)) + ":")
                self.tokens += 1
                if not self._stored(inner, (*path, key)):
                    return False
            self.pieces.append(r"\}")
            return True
        if type(value) is list:
            self.pieces.append(r"\[")
            for n, inner in enumerate(value):
                self.pieces.append("," if n else "")
                if not self._stored(inner, (*path, n)):
                    return False
            self.pieces.append(r"\]")
            return True
        return False  # a float, or a wrapper of another type

    def _body(self, value: Any, path: tuple[Any, ...]) -> None:
        """The body's literal parts and values, as json.dumps(sort_keys=True) writes them."""
        if path in self.leaves:
            self.order.append(self.leaves[path])
            self.literals.append("")
        elif type(value) is dict:
            self.literals[-1] += "{"
            for n, key in enumerate(sorted(value)):
                self.literals[-1] += (", " if n else "") + json.dumps(key) + ": "
                self._body(value[key], (*path, key))
            self.literals[-1] += "}"
        else:
            self.literals[-1] += "["
            for n, inner in enumerate(value):
                self.literals[-1] += ", " if n else ""
                self._body(inner, (*path, n))
            self.literals[-1] += "]"

    def body(self) -> pl.Expr:
        """The body the exporter writes for each stored text of the shape, from its ``tokens``."""
        tokens = pl.col("tokens")
        parts: list[pl.Expr] = [pl.lit(self.literals[0])]
        for index, literal in zip(self.order, self.literals[1:], strict=True):
            parts += [tokens.list.get(index), pl.lit(literal)]
        return pl.concat_str(parts)


def _wrapped(value: Any) -> bool:
    return (
        type(value) is dict
        and len(value) == 2
        and value.get("_type_") == "datetime_iso"
        and type(value.get("_data_")) is str
    )


def _datetimes_round_trip(texts: pl.Series) -> bool:
    """Every wrapped datetime's text is what ``isoformat`` writes for it (plain_json's value)."""
    wrapped = texts.str.extract_all(_DATETIME).explode().drop_nulls().unique()
    for each in wrapped.to_list():
        moment = each[len(_WRAPPED) + 1 : -2]
        try:
            if datetime.fromisoformat(moment).isoformat() != moment:
                return False
        except ValueError:
            return False
    return True
