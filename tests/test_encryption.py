"""Encryption at rest (``KASDA_CIPHER_KEY``): event bodies are AES-GCM ciphertext in the store's
files and rows, the ledger reads them back with the key, and a wrong or malformed key is refused
clearly."""

from __future__ import annotations

import sqlite3
from base64 import b64encode
from pathlib import Path
from uuid import UUID

import psycopg
import pytest
from eventsourcing.persistence import MapperDeserialisationError
from psycopg import sql

from kasda.cli import main
from kasda.settings import Settings
from ledger.application import Ledger
from ledger.cipher import UndecryptableEvent, new_key
from ledger.disbursement import Status
from ledger.errors import InvalidInput
from ledger.store import env_for_url
from projections import queries as q
from projections.runner import Projector
from reconciliation.readers.ledger import ledger_frame
from testkit.clock import FixedClock
from tests import factory as f
from tests.conftest import postgres_url

ACCOUNT = "0012345678"
NAME = "PT Pikiran Rakyat Bandung"
SECRETS = (ACCOUNT.encode(), NAME.encode(), f.NPWP_DIGITS.encode(), f.NPWP.encode())


def _lifecycle(url: str) -> str:
    """Adopt a budget, register a vendor and pay it in full; the vendor's id."""
    ledger = Settings.from_env().open_ledger(url, clock=FixedClock())
    try:
        f.adopt(ledger)
        vendor_id = f.register_vendor(ledger, name=NAME, account=ACCOUNT).id
        f.pay_in_full(ledger, "SPP-ENC-1")
    finally:
        ledger.close()
    return vendor_id


def _assert_reads_back(url: str, vendor_id: str) -> None:
    ledger = Settings.from_env().open_ledger(
        url, clock=FixedClock()
    )  # a fresh process: nothing cached
    try:
        vendor = ledger.vendor(UUID(vendor_id))
        assert (vendor.name, vendor.account.number) == (NAME, ACCOUNT)
        assert ledger.disbursement(f.disbursement_id("SPP-ENC-1")).status == Status.SETTLED
        lines = ledger.budget_lines(f.PEMDA, f.YEAR)  # the bulk reader decrypts too
        assert sum(line.realised for line in lines) == 100_000_000
    finally:
        ledger.close()


def _sqlite_bytes(db: Path) -> bytes:
    with sqlite3.connect(db) as conn:  # fold the WAL into the main file
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    files = [db, db.with_name(db.name + "-wal")]
    return b"".join(p.read_bytes() for p in files if p.exists())


def _project(url: str) -> None:
    """Build the read models too: they live in the same file and must not leak what the events hide."""
    ledger = Settings.from_env().open_ledger(url, clock=FixedClock())
    projector = Projector(ledger)
    try:
        projector.catch_up()
        statement = q.vendor_statement(projector.db, f.PEMDA, f.NPWP)
        assert statement["account_number"].to_list() == [ACCOUNT]  # unsealed on the way out
        found = q.vendor(projector.db, f.PEMDA, f.NPWP)
        assert found is not None and found["name"] == NAME
        # Reconciliation reads its ledger side from the read models: the account in clear.
        [paid] = ledger_frame(ledger, f.PEMDA).iter_rows(named=True)
        assert (paid["beneficiary_account"], paid["status"]) == (ACCOUNT, "settled")
    finally:
        projector.close()
        ledger.close()


@pytest.mark.parametrize("encrypted", [True, False], ids=["with-key", "without-key"])
def test_sqlite_file_holds_no_vendor_secrets_in_clear(
    encrypted: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if encrypted:
        monkeypatch.setenv("KASDA_CIPHER_KEY", new_key())
    else:
        monkeypatch.delenv("KASDA_CIPHER_KEY", raising=False)
    db = tmp_path / "kasda.db"
    url = f"sqlite:///{db}"
    vendor_id = _lifecycle(url)
    _project(url)
    raw = _sqlite_bytes(db)
    if encrypted:
        assert [s for s in SECRETS if s in raw] == []
    else:  # the control: without a key the same scenario leaves the account number readable
        assert ACCOUNT.encode() in raw
    _assert_reads_back(url, vendor_id)


def test_postgres_rows_hold_no_vendor_secrets_in_clear(
    pg_schema_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KASDA_CIPHER_KEY", new_key())
    vendor_id = _lifecycle(pg_schema_url)
    _project(pg_schema_url)
    env = env_for_url(pg_schema_url, Settings.from_env().ledger_env())
    with psycopg.connect(postgres_url()) as conn:
        table = sql.SQL("{}.{}").format(
            sql.Identifier(env["POSTGRES_SCHEMA"]), sql.Identifier("kasda_events")
        )
        states = [bytes(r[0]) for r in conn.execute(sql.SQL("SELECT state FROM {}").format(table))]
        # Every read-model row, as text, too.
        for name in ("proj_vendor", "proj_payment", "proj_receipt", "proj_queue"):
            model = sql.SQL("{}.{}").format(
                sql.Identifier(env["POSTGRES_SCHEMA"]), sql.Identifier(name)
            )
            rows = conn.execute(sql.SQL("SELECT t::text FROM {} t").format(model)).fetchall()
            states += [str(r[0]).encode() for r in rows]
    assert len(states) > 10
    raw = b"".join(states)
    assert [s for s in SECRETS if s in raw] == []
    _assert_reads_back(pg_schema_url, vendor_id)


def test_a_wrong_key_opens_the_store_but_fails_on_the_first_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Opening needs no decryption, so it succeeds; the first event read raises the library's
    ``MapperDeserialisationError`` naming the event, caused by our ``UndecryptableEvent`` saying
    the key is wrong. The CLI prints that and exits 1."""
    url = f"sqlite:///{tmp_path / 'kasda.db'}"
    monkeypatch.setenv("KASDA_CIPHER_KEY", new_key())
    _lifecycle(url)
    monkeypatch.setenv("KASDA_CIPHER_KEY", new_key())
    ledger = Settings.from_env().open_ledger(url)
    try:
        with pytest.raises(
            MapperDeserialisationError, match="KASDA_CIPHER_KEY is not the key"
        ) as e:
            ledger.budget(f.PEMDA, f.YEAR)
        assert isinstance(e.value.__cause__, UndecryptableEvent)
        with pytest.raises(MapperDeserialisationError, match="KASDA_CIPHER_KEY is not the key"):
            ledger.budget_lines(f.PEMDA, f.YEAR)  # the bulk reader, used by commands
    finally:
        ledger.close()
    monkeypatch.setenv("KASDA_DATABASE_URL", url)
    assert main(["replay", "--position", "5"]) == 1
    assert "KASDA_CIPHER_KEY is not the key" in capsys.readouterr().err


def test_an_encrypted_store_read_without_the_key_fails_to_decode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a key the ciphertext is taken for JSON: the library's error names the event but
    not the key (the bytes give no sign that they were encrypted)."""
    url = f"sqlite:///{tmp_path / 'kasda.db'}"
    monkeypatch.setenv("KASDA_CIPHER_KEY", new_key())
    _lifecycle(url)
    monkeypatch.delenv("KASDA_CIPHER_KEY")
    ledger = Settings.from_env().open_ledger(url)
    try:
        with pytest.raises(MapperDeserialisationError, match="Failed to deserialise"):
            ledger.budget(f.PEMDA, f.YEAR)
    finally:
        ledger.close()


def test_a_key_on_a_store_written_without_one_fails_the_same_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'kasda.db'}"
    monkeypatch.delenv("KASDA_CIPHER_KEY", raising=False)
    _lifecycle(url)
    monkeypatch.setenv("KASDA_CIPHER_KEY", new_key())
    ledger = Settings.from_env().open_ledger(url)
    try:
        with pytest.raises(MapperDeserialisationError, match="KASDA_CIPHER_KEY is not the key"):
            ledger.budget(f.PEMDA, f.YEAR)
    finally:
        ledger.close()


@pytest.mark.parametrize(
    "key",
    ["not base64!", b64encode(b"ten bytes!").decode(), "Zm9v=bar", b64encode(bytes(33)).decode()],
)
def test_a_malformed_key_is_invalid_input(
    key: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KASDA_CIPHER_KEY", key)
    with pytest.raises(InvalidInput, match="KASDA_CIPHER_KEY"):
        env_for_url("memory://", Settings.from_env().ledger_env())
    with pytest.raises(InvalidInput, match="KASDA_CIPHER_KEY"):
        Settings.from_env().open_ledger("memory://")
    monkeypatch.delenv("KASDA_CIPHER_KEY")
    with pytest.raises(InvalidInput, match="KASDA_CIPHER_KEY"):
        Ledger("memory://", env={"KASDA_CIPHER_KEY": key})
    monkeypatch.setenv("KASDA_CIPHER_KEY", key)
    monkeypatch.setenv("KASDA_DATABASE_URL", "memory://")
    assert main(["replay", "--position", "1"]) == 2
    assert "KASDA_CIPHER_KEY" in capsys.readouterr().err


def test_keygen_prints_a_usable_key(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["keygen"]) == 0
    key = capsys.readouterr().out.strip()
    monkeypatch.setenv("KASDA_CIPHER_KEY", key)
    assert env_for_url("memory://", Settings.from_env().ledger_env())["CIPHER_KEY"] == key
    assert main(["keygen"]) == 0
    assert capsys.readouterr().out.strip() != key
