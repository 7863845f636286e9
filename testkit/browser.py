"""The web app in a real browser: a live kasda server (uvicorn, in a thread, on a free port of
127.0.0.1, over the ledger the test gives it) and Debian's Chromium driven by Playwright.

Chromium is Debian's package (``/usr/bin/chromium``; ``.ci/run`` installs it); Playwright's own
browser download is never used (no internet). ``CHROMIUM`` is None when it is missing: the browser
tests then skip loudly, or fail under ``CI=true`` (tests/browser/conftest.py)."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from api.app import create_app
from api.settings import ApiSettings
from ledger.application import Ledger

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
START_LIMIT_SECONDS = 30.0


class LiveServer:
    """A running app: ``url`` is its base, ``config`` its settings (the demo users among them)."""

    def __init__(self, config: ApiSettings, ledger: Ledger | None) -> None:
        self.config = config
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        app = create_app(config, ledger=ledger)
        self._server = uvicorn.Server(
            uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
        )
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + START_LIMIT_SECONDS
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the kasda server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=START_LIMIT_SECONDS)
        self._socket.close()


@contextmanager
def live_server(config: ApiSettings, ledger: Ledger | None = None) -> Iterator[LiveServer]:
    """Serve the app of ``config`` (over ``ledger`` if given, which the caller closes) until the
    block ends."""
    server = LiveServer(config, ledger)
    server.start()
    try:
        yield server
    finally:
        server.stop()
