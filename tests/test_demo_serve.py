"""The quick start: ``make demo`` (``kasda demo``) builds the demo year only when the store lacks it or
another seed or version built it, then, on a terminal, serves the web app in demo mode until Ctrl-C;
from a script (no terminal) or with ``KASDA_DEMO_SERVE=0`` it builds and exits."""

from __future__ import annotations

import io
import json
import os
import pty
import shutil
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kasda.cli import main as cli
from kasda.demo.command import DEMO_VERSION, read_stamp, run_demo, stamp_path
from kasda.demo.serve import serve_demo
from kasda.demo.users import USERS
from kasda.settings import Settings
from ledger.roles import Role

ROOT = Path(__file__).resolve().parent.parent
SEED, LIFECYCLES = 3, 20
SERVE_LIMIT_SECONDS = 90.0


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, int]:
    """A small demo year built by ``kasda demo`` run as a script would (stdout is not a terminal):
    the SQLite file, what it printed and its exit code."""
    folder = tmp_path_factory.mktemp("demo")
    path = folder / "kasda.db"
    out = io.StringIO()
    settings = Settings(database_url=f"sqlite:///{path}", jwt_secret_file=str(folder / "jwt.key"))
    code = run_demo(SEED, LIFECYCLES, out=out, settings=settings)
    assert code == 0
    code = serve_demo(settings, "127.0.0.1", 8000, stdin=io.StringIO(), out=out)
    return path, out.getvalue(), code


def copy_store(built: Path, folder: Path) -> Path:
    """A copy of the built store (and its stamp) that a test may change."""
    for source in built.parent.iterdir():
        if source.name.startswith("kasda.db"):
            shutil.copy(source, folder / source.name)
    return folder / "kasda.db"


def test_from_a_script_it_builds_stamps_and_exits(built: tuple[Path, str, int]) -> None:
    path, printed, code = built
    assert code == 0
    assert "No demo year in the store yet: building it (seed 3, 20 planned lifecycles" in printed
    assert "Not serving the web app (not attached to a terminal)" in printed
    assert "Press Ctrl-C" not in printed
    stamp = read_stamp(path)
    assert stamp is not None
    assert (stamp.seed, stamp.lifecycles, stamp.demo_version) == (SEED, LIFECYCLES, DEMO_VERSION)


def test_the_cli_off_a_terminal_exits_after_building(
    built: tuple[Path, str, int],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = copy_store(built[0], tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KASDA_DATABASE_URL", f"sqlite:///{path}")
    assert cli(["demo", "--seed", str(SEED), "--lifecycles", str(LIFECYCLES)]) == 0
    printed = capsys.readouterr().out
    assert "not building it again" in printed
    assert "Not serving the web app (not attached to a terminal)" in printed


def test_the_same_seed_is_not_built_again_and_an_unstamped_store_is_kept(
    built: tuple[Path, str, int], tmp_path: Path
) -> None:
    path = copy_store(built[0], tmp_path)
    url = f"sqlite:///{path}"
    out = io.StringIO()
    assert run_demo(SEED, LIFECYCLES, url=url, out=out) == 0
    assert "built with seed 3, 20 planned lifecycles" in out.getvalue()
    assert "(the same as asked" in out.getvalue()
    assert "not building it again" in out.getvalue()
    size = path.stat().st_size
    stamp_path(path).unlink()  # built before stamps, or not by the demo: never deleted
    out = io.StringIO()
    assert run_demo(SEED + 1, LIFECYCLES, url=url, out=out) == 0
    assert "no record of the seed it was built with" in out.getvalue()
    assert "--fresh" in out.getvalue()
    assert path.stat().st_size == size and not stamp_path(path).exists()


def test_another_seed_or_version_is_built_again(
    built: tuple[Path, str, int], tmp_path: Path
) -> None:
    path = copy_store(built[0], tmp_path)
    stamped = json.loads(stamp_path(path).read_text())
    stamp_path(path).write_text(json.dumps({**stamped, "demo_version": DEMO_VERSION - 1}))
    out = io.StringIO()
    assert run_demo(SEED, LIFECYCLES, url=f"sqlite:///{path}", out=out) == 0
    printed = out.getvalue()
    assert f"built with seed 3, 20 planned lifecycles, demo version {DEMO_VERSION - 1}" in printed
    assert f"deleting {path} and building it again" in printed
    assert "Counts" in printed
    stamp = read_stamp(path)
    assert stamp is not None and stamp.demo_version == DEMO_VERSION


def test_demo_serve_off_on_a_terminal_builds_and_exits(tmp_path: Path) -> None:
    leader, follower = pty.openpty()
    with os.fdopen(leader, "rb", buffering=0) as _, os.fdopen(follower, "w") as terminal:
        assert terminal.isatty()
        out = io.StringIO()
        settings = Settings.from_env(
            {"KASDA_DEMO_SERVE": "0", "KASDA_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
        )
        assert serve_demo(settings, "127.0.0.1", 8000, stdin=terminal, out=out) == 0
    assert "Not serving the web app (KASDA_DEMO_SERVE is off)" in out.getvalue()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Terminal:
    """``kasda demo`` in a pseudo-terminal of its own: what it printed, and its keyboard."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path) -> None:
        self.output = bytearray()
        self.ended = False
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: the pty is its controlling terminal
            os.chdir(cwd)
            os.execve(sys.executable, [sys.executable, *argv], env)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.fd, 65536)
            except OSError:
                return
            if not data:
                return
            self.output.extend(data)

    def text(self) -> str:
        return self.output.decode(errors="replace")

    def wait(self, limit: float) -> int | None:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.ended = True
                return os.waitstatus_to_exitcode(status)
            time.sleep(0.05)
        return None

    def kill(self) -> None:
        """End the child if it still runs (it alone, by its pid, never reaped yet), and close the
        terminal."""
        if not self.ended:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            self.ended = True
        os.close(self.fd)


@pytest.fixture
def terminal_demo(built: tuple[Path, str, int], tmp_path: Path) -> Iterator[tuple[Terminal, str]]:
    path = copy_store(built[0], tmp_path)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KASDA_")}
    env |= {
        "KASDA_DATABASE_URL": f"sqlite:///{path}",
        "PYTHONPATH": str(ROOT),
        "TERM": "dumb",
    }
    code = "import sys; from kasda.cli import main; sys.exit(main())"
    argv = ["-c", code, "demo", "--seed", str(SEED), "--lifecycles", str(LIFECYCLES)]
    running = Terminal([*argv, "--port", str(port)], env, tmp_path)
    try:
        yield running, f"http://127.0.0.1:{port}"
    finally:
        running.kill()


def get_when_up(url: str, terminal: Terminal) -> httpx.Response:
    deadline = time.monotonic() + SERVE_LIMIT_SECONDS
    while time.monotonic() < deadline:
        try:
            return httpx.get(url, timeout=5)
        except httpx.TransportError:
            assert terminal.wait(0) is None, f"kasda demo ended:\n{terminal.text()[-3000:]}"
            time.sleep(0.1)
    raise AssertionError(f"kasda demo did not serve {url}:\n{terminal.text()[-3000:]}")


def test_on_a_terminal_it_serves_the_web_app_until_ctrl_c(
    terminal_demo: tuple[Terminal, str],
) -> None:
    terminal, base = terminal_demo
    answer = get_when_up(f"{base}/masuk", terminal)
    assert answer.status_code == 200
    assert "Pengguna demo" in answer.text  # demo mode is on: the demo users are offered
    printed = terminal.text()
    assert "not building it again" in printed
    assert f"kasda web app (demo mode): {base}/masuk" in printed
    for role, user_id in USERS.items():
        if role is not Role.GATEWAY:  # a machine: no sign-in
            assert user_id in printed, user_id
    assert terminal.wait(0) is None  # still serving
    os.write(terminal.fd, b"\x03")  # Ctrl-C at the terminal: SIGINT to its foreground group
    assert terminal.wait(30) == 0, terminal.text()[-3000:]
    assert "the web app has stopped" in terminal.text()


def test_the_quick_start_is_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    quick = readme.split("## Quick start", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    assert quick.splitlines() == ["make demo", "make test"]
    makefile = (ROOT / "Makefile").read_text()
    assert "\ndemo: $(STAMP)\n\t$(BIN)/kasda demo --seed 2026\n" in makefile


def test_the_demo_vendor_user_is_a_vendor_of_the_stamped_year(tmp_path: Path) -> None:
    """A demo store stamped with its seed signs the vendor user in for one of that year's media
    companies (its portal has payments); an unstamped store keeps the tests' company."""
    from kasda.demo.command import Stamp, write_stamp
    from kasda.demo.users import VENDOR_NPWP, stamped_sign_ins, year_vendor
    from ledger.roles import Role

    store = tmp_path / "kasda.db"
    url = f"sqlite:///{store}"
    assert _vendor_npwp(stamped_sign_ins(url)) == VENDOR_NPWP
    write_stamp(store, Stamp.of(7, 40))
    name, npwp = year_vendor(7, 40)
    assert _vendor_npwp(stamped_sign_ins(url)) == npwp != VENDOR_NPWP
    assert any(u.label == name for u in stamped_sign_ins(url) if u.role is Role.VENDOR)


def _vendor_npwp(users: tuple[Any, ...]) -> str:
    from ledger.roles import Role

    return next(str(u.npwp) for u in users if u.role is Role.VENDOR)
