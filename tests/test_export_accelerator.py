"""The optional C accelerator of ``kasda verify --export`` (``kasda/_export_check.c``) against the
Python checks it stands in for: on stored states and bodies of every JSON shape (escapes, surrogate
pairs, big ints, floats, nested lists and dicts, the library's datetime and UUID wrappers, key
order, whitespace, duplicate keys) and on mutated bytes, it vouches for a body only where
``body_matches_state`` says equal, and on whole exports (tricky topics, non-ASCII bodies, mutated
files) it vouches for a slice only where the Python fast path does, with the same chain, and the
exact walks agree. Locally a missing accelerator skips these tests with a loud reason; with
``CI=true`` it fails them, so CI always exercises it."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from tempfile import TemporaryDirectory
from types import ModuleType
from typing import Any
from uuid import UUID

import polars as pl
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from kasda import export
from kasda.export import body_matches_state, plain_json, verify_export
from ledger.integrity import GENESIS, chain_next, event_digest
from testkit.clock import FixedClock
from tests import factory as f

ODD_TIMES = st.sampled_from(
    [
        "2026-01-02T03:04:05.000000",
        "2026-01-02T03:04:05-00:00",
        "2026-01-02 03:04:05",
        "2026-01-02T03:04:05Z",
        "2026-02-30T00:00:00",
        "2026-01-02T03:04:05.123",
        "2026-01-02T03:04:05+05:60",
        "2026-01-02T03:04:05+24:00",
        "2026-01-02T03:04:05+07:00:30",
        "2026-01-02T24:00:00",
        "0000-01-02T03:04:05",
        "2026-01-02",
        "2026-1-02T03:04:05",
        "2026-01-02T03:04:05.1234567",
    ]
)


def the_accelerator() -> ModuleType:
    """The built accelerator; a loud skip if it is not built (a failure with ``CI=true``)."""
    if export.accelerator is not None:
        return export.accelerator
    problem = "the verify --export accelerator is not built (pip install -e . with a C compiler)"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI=true and {problem}", pytrace=False)
    pytest.skip(f"!!! SKIPPING ACCELERATOR TEST: {problem}")


MANY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def python_verdict(body: str, state: bytes) -> Any:
    """The exact check's verdict (True, False, None: encrypted) or the error it raises."""
    try:
        return body_matches_state(json.loads(body), state)
    except (ValueError, TypeError, RecursionError) as error:
        return type(error).__name__


# -- values as the library stores them -----------------------------------------------------------
TRICKY = st.text(
    st.one_of(
        st.sampled_from(['"', "\\", "/", "\b", "\f", "\n", "\r", "\t", "\x00", "\x1f", "\x7f"]),
        st.sampled_from(["é", "—", "\u2028", "\ufeff", "😀", "\U0010ffff", "\ud800", "\udfff"]),
        st.characters(),
    ),
    max_size=8,
)
DATETIMES = st.builds(
    lambda moment, zone: moment.replace(tzinfo=zone).isoformat(),
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)),
    st.sampled_from(
        [
            None,
            UTC,
            timezone(timedelta(hours=7)),
            timezone(timedelta(hours=-5, minutes=-30)),
            timezone(timedelta(hours=23, minutes=59)),
            timezone(-timedelta(hours=23, minutes=59)),
        ]
    ),
)
WRAPPED = st.one_of(
    st.builds(lambda t: {"_type_": "datetime_iso", "_data_": t}, DATETIMES),
    st.builds(lambda u: {"_type_": "uuid_hex", "_data_": u.hex}, st.uuids()),
    st.builds(lambda n: {"_type_": "other", "_data_": n}, st.integers()),
)
EXACT_LEAVES = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(-(10**60), 10**60), TRICKY, WRAPPED
)
ODD_WRAPPED = st.one_of(
    st.builds(lambda t: {"_type_": "datetime_iso", "_data_": t}, ODD_TIMES),
    st.builds(lambda u: {"_type_": "uuid_hex", "_data_": u.hex.upper()}, st.uuids()),
    st.builds(lambda u: {"_type_": "uuid_hex", "_data_": str(u)}, st.uuids()),
    st.builds(lambda d: {"_type_": "datetime_iso", "_data_": d}, st.integers()),
    st.builds(lambda d: {"_type_": "uuid_hex", "_data_": d}, TRICKY),
    st.builds(lambda k, d: {"_type_": k, "_data_": d}, TRICKY, st.integers()),
)
LEAVES = st.one_of(EXACT_LEAVES, st.floats(), ODD_WRAPPED)


def nested(leaves: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4), st.dictionaries(TRICKY, inner, max_size=4)
        ),
        max_leaves=14,
    )


def _escape(char: str) -> str:
    code = ord(char)
    if code >= 0x10000:  # a surrogate pair
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04X}"
    return f"\\u{code:04x}" if code % 2 else f"\\u{code:04X}"


def render(value: Any, draw: Callable[[st.SearchStrategy[Any]], Any], odd: bool) -> str:
    """JSON of ``value`` written one of many ways: whitespace, escapes of any character, keys in
    any order; with ``odd``, also duplicate keys and numbers in other spellings."""

    def space() -> str:
        return str(draw(st.sampled_from(["", "", " ", "\n", "\t ", "\r\n"])))

    def string(text: str) -> str:
        out = []
        for char in text:
            if char in '"\\' or ord(char) < 0x20 or "\ud800" <= char <= "\udfff":
                out.append(json.dumps(char)[1:-1] if draw(st.booleans()) else _escape(char))
            elif draw(st.integers(0, 5)) == 0:
                out.append("\\/" if char == "/" else _escape(char))
            else:
                out.append(char)
        return '"' + "".join(out) + '"'

    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int):
        if odd and draw(st.integers(0, 3)) == 0:
            return str(draw(st.sampled_from([f"{value}.0", f"{value}e0", f"{value}E+0"])))
        return "-0" if odd and value == 0 and draw(st.booleans()) else str(value)
    if isinstance(value, float):
        return json.dumps(value)
    if isinstance(value, str):
        return string(value)
    if isinstance(value, list):
        return "[" + space() + ",".join(render(v, draw, odd) + space() for v in value) + "]"
    items = list(value.items())
    random.Random(draw(st.integers(0, 1000))).shuffle(items)
    if odd and items and draw(st.integers(0, 3)) == 0:
        key, _ = draw(st.sampled_from(items))
        items.insert(0, (key, draw(EXACT_LEAVES)))  # a duplicate key, overridden after
    members = [
        space() + string(k) + space() + ":" + space() + render(v, draw, odd) for k, v in items
    ]
    return "{" + ",".join(members) + space() + "}"


def exporter_body(value: Any) -> str:
    """``body`` as the exporter writes it in events.parquet."""
    return json.dumps(value, sort_keys=True)


# -- the body check ------------------------------------------------------------------------------
@MANY
@given(nested(EXACT_LEAVES), st.data())
def test_it_vouches_for_every_body_the_exporter_writes_from_stored_json(
    stored: Any, data: st.DataObject
) -> None:
    """Stored bytes of plain values written any way (spacing, escapes, key order), and the body
    as the exporter writes it: the accelerator vouches, as the Python check says equal."""
    accelerator = the_accelerator()
    text = render(stored, data.draw, odd=False)
    state = text.encode("utf-8", "surrogatepass")
    body = exporter_body(plain_json(json.loads(state)))
    assert python_verdict(body, state) is True
    assert accelerator.body_vouched(body, state) is True


@MANY
@given(nested(LEAVES), st.data())
def test_it_vouches_only_where_the_python_check_says_equal(
    stored: Any, data: st.DataObject
) -> None:
    """Any stored JSON (floats, odd wrappers, duplicate keys, other spellings of numbers) against
    the exporter's body or an edited one: vouched means equal to the Python check."""
    accelerator = the_accelerator()
    state = render(stored, data.draw, odd=True).encode("utf-8", "surrogatepass")
    try:
        plain = plain_json(json.loads(state))
        body = exporter_body(plain)
    except (ValueError, TypeError):
        body = exporter_body(stored)
    edit = data.draw(
        st.sampled_from(["none", "digit", "sign", "case", "space", "nested", "true", "null"])
    )
    if edit == "digit":
        body = body.replace("1", "2", 1)
    elif edit == "sign":
        body = body.replace("-", "", 1)
    elif edit == "case":
        body = body.replace("a", "A", 1)
    elif edit == "space":
        body = body.replace(", ", ",\n", 1)
    elif edit == "true":
        body = body.replace("true", "false", 1)
    elif edit == "null":
        body = body.replace("null", "false", 1)
    elif edit == "nested":
        body = exporter_body({"wrapped": json.loads(body)})
    if accelerator.body_vouched(body, state):
        assert python_verdict(body, state) is True, (body, state)


@MANY
@given(nested(LEAVES), st.data())
def test_mutated_bytes_are_never_vouched_for_wrongly(stored: Any, data: st.DataObject) -> None:
    accelerator = the_accelerator()
    state = bytearray(render(stored, data.draw, odd=False).encode("utf-8", "surrogatepass"))
    body = bytearray(json.dumps(stored, sort_keys=True).encode())
    for _ in range(data.draw(st.integers(1, 3))):
        target = data.draw(st.sampled_from([state, body]))
        if not target:
            continue
        at = data.draw(st.integers(0, len(target) - 1))
        action = data.draw(st.sampled_from(["flip", "insert", "delete"]))
        byte = data.draw(st.sampled_from([*b'"\\{}[],:0-eE.tfn u/ ', 0x00, 0x7F, 0x80, 0xC3, 0xED]))
        if action == "flip":
            target[at] = byte
        elif action == "insert":
            target.insert(at, byte)
        else:
            del target[at]
    try:
        body_text = body.decode("utf-8")
    except UnicodeDecodeError:
        return
    if accelerator.body_vouched(body_text, bytes(state)):
        assert python_verdict(body_text, bytes(state)) is True


@pytest.mark.parametrize(
    ("body", "state", "vouched"),
    [
        (
            '{"at": "2026-01-02T03:04:05+05:60"}',
            b'{"at":{"_type_":"datetime_iso","_data_":"2026-01-02T03:04:05+05:60"}}',
            False,
        ),
        (
            '{"at": "2026-01-02T03:04:05-00:00"}',
            b'{"at":{"_type_":"datetime_iso","_data_":"2026-01-02T03:04:05-00:00"}}',
            False,
        ),
        (
            '{"at": "2026-01-02T03:04:05.000000"}',
            b'{"at":{"_type_":"datetime_iso","_data_":"2026-01-02T03:04:05.000000"}}',
            False,
        ),
        (
            '{"at": "2024-02-29T03:04:05.000001+07:00"}',
            b'{"at":{"_type_":"datetime_iso","_data_":"2024-02-29T03:04:05.000001+07:00"}}',
            True,
        ),
        (
            '{"at": "2023-02-29T03:04:05"}',
            b'{"at":{"_type_":"datetime_iso","_data_":"2023-02-29T03:04:05"}}',
            False,
        ),
        (
            '{"id": "0123abcd-0000-0000-0000-00000000000f"}',
            b'{"id":{"_type_":"uuid_hex","_data_":"0123abcd00000000000000000000000f"}}',
            True,
        ),
        (
            '{"id": "0123abcd-0000-0000-0000-00000000000f"}',
            b'{"id":{"_type_":"uuid_hex","_data_":"0123ABCD00000000000000000000000F"}}',
            False,
        ),
        ('{"n": 1}', b'{"n":1.0}', False),
        ('{"n": 1}', b'{"n":true}', False),
        ('{"n": NaN}', b'{"n":NaN}', False),
        ('{"n": 0}', b'{"n":-0}', False),
        ('{"n": 12345678901234567890123456789}', b'{"n":12345678901234567890123456789}', True),
        ('{"a": 2}', b'{"a":1,"a":2}', False),
        ('{"s": "\\ud83d\\ude00"}', '{"s":"😀"}'.encode(), True),
        ('{"s": "\\ud83d"}', b'{"s":"\\ud83d"}', True),
        ('{"s": "\\u00e9"}', b'{"s":"\\u00E9"}', True),
        ('{"s": "x"}', b'\xef\xbb\xbf{"s":"x"}', False),
        ('{"s": "x"}', b'{"s":"x"} x', False),
        ('{"b": 1, "a": 2}', b'{"a":2,"b":1}', False),
        ("[]", b"[]", True),
        ('{"k": {}}', b'{"k":{"_type_":"other","_data_":{}}}', True),
        (
            '{"at": "2100-02-29T00:00:00"}',
            b'{"at":{"_type_":"datetime_iso","_data_":"2100-02-29T00:00:00"}}',
            False,
        ),
        (
            '{"at": "2000-02-29T00:00:00"}',
            b'{"at":{"_type_":"datetime_iso","_data_":"2000-02-29T00:00:00"}}',
            True,
        ),
        ('{"a": 1, "b": 1}', b'{"a":1,"a":1}', False),
        (
            '{"id": "0123ABCD-0000-0000-0000-00000000000F"}',
            b'{"id":{"_type_":"uuid_hex","_data_":"0123ABCD00000000000000000000000F"}}',
            False,
        ),
        ('{"b": false}', b'{"b":true}', False),
        ('{"b": null}', b'{"b":false}', False),
        ('{"b": true}', b'{"b":true}', True),
    ],
)
def test_the_cases_it_must_decline_and_the_ones_it_reads(
    body: str, state: bytes, vouched: bool
) -> None:
    accelerator = the_accelerator()
    assert accelerator.body_vouched(body, state) is vouched
    if vouched:
        assert python_verdict(body, state) is True


# -- whole exports: the accelerator against the Python fast path and the exact walks -------------
TOPIC_TEXT = st.text(
    st.sampled_from(["a", "Z", ":", ".", '"', "\\", "\n", "\x01", "\x7f", "é", "😀", " "]),
    max_size=6,
)


@st.composite
def export_rows(draw: st.DrawFn) -> list[dict[str, Any]]:
    rows, previous, position = [], GENESIS, 0
    for _ in range(draw(st.integers(1, 7))):
        stored = draw(nested(EXACT_LEAVES))
        state = render(stored, draw, odd=False).encode("utf-8", "surrogatepass")
        if draw(st.integers(0, 9)) == 0:
            state = draw(st.binary(max_size=40))  # an encrypted body
        try:
            value = plain_json(json.loads(state))
        except (ValueError, TypeError):
            value = {"secret": draw(st.integers())}
        topic = "ledger." + draw(TOPIC_TEXT) + ":" + draw(TOPIC_TEXT)
        kind, _, name = topic.rpartition(":")[2].rpartition(".")
        aggregate, version = draw(st.uuids()), draw(st.integers(0, (1 << 63) - 1))
        position += draw(st.integers(1, 1 << 20))
        digest = event_digest(aggregate, version, topic, state)
        previous = chain_next(previous, position, digest)
        rows.append(
            {
                "position": position,
                "aggregate_id": str(aggregate),
                "aggregate_type": kind,
                "event": name,
                "version": version,
                "topic": topic,
                "state_b64": base64.b64encode(state).decode(),
                "digest": digest.hex(),
                "chain_hash": previous.hex(),
                "body": value,
            }
        )
    return rows


def write_export(folder: Path, rows: list[dict[str, Any]], jsonl: bytes | None = None) -> None:
    """events.jsonl and events.parquet as the exporter writes them, the manifest to match."""
    lines = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows)
    (folder / "events.jsonl").write_bytes(jsonl if jsonl is not None else lines.encode())
    pl.DataFrame(
        [{**r, "body": json.dumps(r["body"], sort_keys=True)} for r in rows], schema=export.SCHEMA
    ).write_parquet(folder / "events.parquet")
    (folder / "checkpoints.json").write_text("[]\n")
    files = {n: hashlib.sha256((folder / n).read_bytes()).hexdigest() for n in export.FILES}
    manifest = {
        "events": len(rows),
        "first_position": rows[0]["position"] if rows else 0,
        "last_position": rows[-1]["position"] if rows else 0,
        "chain_head": rows[-1]["chain_hash"] if rows else GENESIS.hex(),
        "files": files,
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))


def fast_verdict(folder: Path, accelerator: ModuleType | None) -> Any:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(export, "accelerator", accelerator)
        walks = export.fast_walks(folder, {}, None)
    if walks is None:
        return None
    return [(w.source, w.events, w.first, w.last, w.head, w.encrypted) for w in walks]


ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _mutate(
    rows: list[dict[str, Any]], data: st.DataObject
) -> tuple[list[dict[str, Any]], bytes | None]:
    lines = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows).encode()
    what = data.draw(
        st.sampled_from(
            ["none", "jsonl byte", "body", "state", "names", "spacing", "bits", "link", "trailing"]
        )
    )
    victim = data.draw(st.integers(0, len(rows) - 1))
    if what == "bits" and rows[victim]["state_b64"].endswith("="):  # read the same by Python
        text = rows[victim]["state_b64"].rstrip("=")
        stray = text[:-1] + ALPHABET[ALPHABET.index(text[-1]) ^ 1]
        rows[victim]["state_b64"] = stray + "=" * (len(rows[victim]["state_b64"]) - len(text))
    elif what == "link":  # a link that does not follow, the digests untouched
        rows[victim]["chain_hash"] = hashlib.sha256(rows[victim]["chain_hash"].encode()).hexdigest()
    elif what == "trailing":
        at = data.draw(st.integers(0, lines.count(b"\n") - 1))
        parts = lines.split(b"\n")
        parts[at] += data.draw(st.sampled_from([b" ", b"x", b"}"]))
        return rows, b"\n".join(parts)
    if what == "jsonl byte":
        at = data.draw(st.integers(0, len(lines) - 1))
        byte = data.draw(st.sampled_from([*b' "\\,:0a\n', 0xC3, 0xA9]))
        return rows, lines[:at] + bytes([byte]) + lines[at + 1 :]
    if what == "body":
        rows[victim]["body"] = {"edited": rows[victim]["body"]}
    elif what == "state":
        state = base64.b64decode(rows[victim]["state_b64"]) + b" "
        rows[victim]["state_b64"] = base64.b64encode(state).decode()
    elif what == "names":
        rows[victim]["event"] += "x"
    elif what == "spacing":
        return rows, lines.replace(b", ", b",", 1)
    return rows, None


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(export_rows(), st.data())
def test_on_whole_exports_it_vouches_as_the_python_fast_path_does(
    rows: list[dict[str, Any]], data: st.DataObject
) -> None:
    """Exports with odd topics, non-ASCII and encrypted bodies, then perhaps one edit: where the
    accelerator vouches, the Python fast path vouches for the same chain and the exact walks pass;
    on the exporter's own files it vouches."""
    accelerator = the_accelerator()
    try:
        "".join(json.dumps(r, ensure_ascii=False) for r in rows).encode()
    except UnicodeEncodeError:
        assume(False)  # a lone surrogate in a body: the exporter could not have written it
    rows, jsonl = _mutate(rows, data)
    with TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_export(folder, rows, jsonl)
        fast = fast_verdict(folder, accelerator)
        python = fast_verdict(folder, None)
        if fast is not None:  # (the Python fast path may refuse what the exact walks pass)
            assert python is None or fast == python
            exact = _exact_verify(folder)
            assert exact.ok, exact.problem
            assert (exact.events, exact.head_hash) == (fast[0][1], fast[0][4])
        if jsonl is None and python is not None:
            assert fast == python  # the exporter's own files are vouched for


def _exact_verify(folder: Path) -> Any:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(export, "fast_walks", lambda *_: None)
        return verify_export(folder)


# -- a real export: the accelerator does the work, and every tamper is named as before -----------
@pytest.fixture
def exported(tmp_path: Path) -> Path:
    from ledger.application import Ledger

    ledger = Ledger(f"sqlite:///{tmp_path / 'kasda.db'}", clock=FixedClock())
    try:
        f.adopt(ledger)
        f.register_vendor(ledger, name="CV Sinar Jaya Élan — Kupang 😀")
        for n in range(2):
            f.pay_in_full(ledger, f"SPP-{n}")
        export.export_history(ledger, tmp_path / "export")
    finally:
        ledger.close()
    return tmp_path / "export"


def test_a_real_export_is_checked_by_the_accelerator(
    exported: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    accelerator = the_accelerator()
    monkeypatch.setattr(export, "FAST_PAGE", 5)
    seen: list[int] = []
    check = accelerator.check_rows

    class Spy:
        def __getattr__(self, name: str) -> Any:
            return getattr(accelerator, name)

        @staticmethod
        def check_rows(*args: Any) -> Any:
            verdict = check(*args)
            seen.append(0 if verdict is None else len(args[0]))
            return verdict

    monkeypatch.setattr(export, "accelerator", Spy())
    report = verify_export(exported)
    assert report.ok, report.problem
    assert sum(seen) == report.events and 0 not in seen
    monkeypatch.setattr(export, "accelerator", None)
    python = verify_export(exported)
    assert (python.events, python.head_hash, python.checkpoints) == (
        report.events,
        report.head_hash,
        report.checkpoints,
    )


def _rows(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]


@pytest.mark.parametrize(
    "edit", ["amount in both files", "event name", "jsonl only", "parquet only", "state"]
)
def test_tampered_exports_are_named_as_the_exact_walks_name_them(
    exported: Path, monkeypatch: pytest.MonkeyPatch, edit: str
) -> None:
    the_accelerator()
    monkeypatch.setattr(export, "FAST_PAGE", 4)
    rows = _rows(exported)
    victim = next(r for r in rows if isinstance(r["body"].get("amount"), int))
    parquet_rows = [dict(r) for r in rows]
    index = rows.index(victim)
    if edit == "amount in both files":
        victim["body"]["amount"] += 1
        parquet_rows[index] = victim
    elif edit == "event name":
        victim["event"] = "Paid"
        parquet_rows[index] = victim
    elif edit == "jsonl only":
        victim["body"]["amount"] += 1
    elif edit == "parquet only":
        parquet_rows[index] = {**victim, "body": {**victim["body"], "amount": 1}}
    else:
        state = base64.b64decode(victim["state_b64"]).replace(b'"amount":', b'"amount": ')
        victim["state_b64"] = base64.b64encode(state).decode()
        parquet_rows[index] = victim
    lines = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows)
    write_export(exported, parquet_rows, lines.encode())
    report = verify_export(exported)
    assert not report.ok
    assert report.problem == _exact_verify(exported).problem
    assert report.problem is not None and report.problem.position == victim["position"]


def _row(position: int, previous: bytes, value: Any, topic: str, state: bytes) -> dict[str, Any]:
    aggregate = UUID(int=position)
    digest = event_digest(aggregate, position, topic, state)
    kind, _, name = topic.rpartition(":")[2].rpartition(".")
    return {
        "position": position,
        "aggregate_id": str(aggregate),
        "aggregate_type": kind,
        "event": name,
        "version": position,
        "topic": topic,
        "state_b64": base64.b64encode(state).decode(),
        "digest": digest.hex(),
        "chain_hash": chain_next(previous, position, digest).hex(),
        "body": value,
    }


@pytest.mark.parametrize(
    "text", ["\x7f", "é", "😀", "\u2028", "\x00\x1f\b\f\n\r\t", '"\\/', "\ufeff", "plain"]
)
def test_tricky_text_is_rendered_as_the_exporter_writes_it(tmp_path: Path, text: str) -> None:
    """Bodies and topics holding characters JSON escapes (or ensure_ascii does): the accelerator
    renders the lines as json.dumps does, and vouches for the exporter's files."""
    accelerator = the_accelerator()
    rows, previous = [], GENESIS
    for position, value in enumerate([{"s": text}, {text: [text, 1]}, [text]], 1):
        state = json.dumps(value, ensure_ascii=position % 2 == 0).encode()
        rows.append(_row(position, previous, value, f"ledger.x{text}:{text}.y{text}", state))
        previous = bytes.fromhex(rows[-1]["chain_hash"])
    write_export(tmp_path, rows)
    fast = fast_verdict(tmp_path, accelerator)
    assert fast is not None and fast == fast_verdict(tmp_path, None)
    assert fast[0][1:5] == (3, 1, 3, previous.hex())


@pytest.mark.parametrize("state", [b'{"n":1}', b'{"n":12}'])  # base64 ending "=" and "=="
def test_base64_with_stray_bits_is_left_to_the_exact_walks(tmp_path: Path, state: bytes) -> None:
    """Python's strict decoder reads base64 whose last character carries stray bits as the same
    bytes; the accelerator, as the Python fast path, does not vouch for such text."""
    accelerator = the_accelerator()
    row = _row(1, GENESIS, json.loads(state), "ledger.x:Y.z", state)
    text = row["state_b64"].rstrip("=")
    row["state_b64"] = (
        text[:-1] + ALPHABET[ALPHABET.index(text[-1]) ^ 1] + row["state_b64"][len(text) :]
    )
    assert base64.b64decode(row["state_b64"], validate=True) == state
    write_export(tmp_path, [row])
    assert fast_verdict(tmp_path, accelerator) is None
    assert fast_verdict(tmp_path, None) is None
    assert _exact_verify(tmp_path).ok


def test_what_is_too_large_for_it_is_declined_not_judged() -> None:
    """Objects of more than 64 keys, nesting deeper than 32: left to the Python check."""
    accelerator = the_accelerator()
    wide = {f"k{n:03}": n for n in range(65)}
    deep: Any = 1
    for _ in range(33):
        deep = [deep]
    for value in (wide, deep, {f"k{n:03}": n for n in range(64)}, deep[0]):
        body, state = exporter_body(value), json.dumps(value).encode()
        assert python_verdict(body, state) is True
        vouched = accelerator.body_vouched(body, state)
        assert vouched is (value is not wide and value is not deep)
