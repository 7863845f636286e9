"""``kasda token``, ``kasda users`` and ``kasda serve`` (a real uvicorn process on 127.0.0.1)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import jwt
import pytest

from api.auth import TokenVerifier
from kasda.cli import main
from kasda.settings import Settings
from ledger.roles import SKPD_BOUND, Role
from testkit.world import SKPD

SECRET = "s" * 48


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("KASDA_JWT_SECRET", SECRET)
    monkeypatch.setenv("KASDA_DATABASE_URL", f"sqlite:///{tmp_path / 'kasda.db'}")
    return tmp_path


def test_token_is_accepted_by_the_api(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token", "--role", "ppk", "--pemda", "32.04", "--sub", "ppk.x"]) == 0
    raw = capsys.readouterr().out.strip()
    who = TokenVerifier(Settings.from_env().api()).verify(raw)
    assert (who.user_id, who.role, who.pemda) == ("ppk.x", Role.PPK, "32.04")
    assert who.skpd == SKPD  # an official of the demo's Dinas Pendidikan unless told otherwise
    assert jwt.get_unverified_header(raw)["alg"] == "HS256"
    assert main(["token", "--role", "pa_kpa", "--skpd", "1.2.0.0.0.0.1.0"]) == 0
    who = TokenVerifier(Settings.from_env().api()).verify(capsys.readouterr().out.strip())
    assert (who.role, who.skpd) == (Role.PA_KPA, "1.02.0.00.0.00.01.0000")


def test_users_prints_a_token_per_role(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["users"]) == 0
    lines = [x for x in capsys.readouterr().out.splitlines() if x.startswith("KASDA_TOKEN_")]
    assert len(lines) == len(Role)
    verifier = TokenVerifier(Settings.from_env().api())
    found = {(w.role, w.skpd) for w in (verifier.verify(x.split("=", 1)[1]) for x in lines)}
    # the officials of a spending unit carry their SKPD; the pemda-wide roles none
    assert found == {(r, SKPD if r in SKPD_BOUND else None) for r in Role}


def test_bad_arguments_are_refused(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token", "--role", "vendor"]) == 2  # a vendor token needs its NPWP
    assert "npwp" in capsys.readouterr().err
    assert main(["token", "--role", "ppk", "--pemda", "Bandung"]) == 2
    assert main(["token", "--role", "ppk", "--skpd", "Dinas Pendidikan"]) == 2
    assert "SKPD code" in capsys.readouterr().err
    assert main(["token", "--role", "kuasa_bud", "--skpd", SKPD]) == 2  # a pemda-wide role
    assert "whole pemda" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["token", "--role", "king"])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_serve_runs_the_api_with_workers(env: Path) -> None:
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kasda.cli",
            "serve",
            "--port",
            str(port),
            "--workers",
            "2",
            "--log-level",
            "warning",
        ],
        env=dict(os.environ),
        cwd=env,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):  # up to 30 s for the workers to start
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, "kasda serve exited"
            time.sleep(0.1)
        token = subprocess.run(
            [sys.executable, "-m", "kasda.cli", "token", "--role", "auditor"],
            capture_output=True,
            text=True,
            check=True,
            env=dict(os.environ),
            cwd=env,
        ).stdout.strip()
        me = httpx.get(f"{base}/pemda/32.73/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200 and me.json()["role"] == "auditor"
        assert httpx.get(f"{base}/pemda/32.73/me").status_code == 401
        docs = httpx.get(f"{base}/docs")
        assert docs.status_code == 200 and "swagger" in docs.text.lower()
        spec = httpx.get(f"{base}/openapi.json").json()
        assert "/pemda/{pemda}/disbursements" in spec["paths"]
    finally:
        process.terminate()
        process.wait(timeout=30)
