"""The command line answers bad configuration with a clear message and a non-zero exit."""

from __future__ import annotations

import pytest

from kasda.cli import main


def test_an_unsupported_database_url_is_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KASDA_DATABASE_URL", "mysql://root@127.0.0.1/kasda")
    assert main(["demo", "--lifecycles", "5"]) == 2
    err = capsys.readouterr().err
    assert "unsupported database URL" in err and "[invalid_input]" in err


def test_an_unreachable_store_is_reported(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Port 9 (discard) has no PostgreSQL server behind it on a test machine.
    monkeypatch.setenv("KASDA_DATABASE_URL", "postgresql://postgres@127.0.0.1:9/test")
    assert main(["demo", "--lifecycles", "5"]) == 1
    assert "event store is unavailable" in capsys.readouterr().err


def test_bad_arguments_exit_non_zero() -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["demo", "--lifecycles", "0"])
    assert exit_.value.code == 2
