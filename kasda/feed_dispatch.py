"""``kasda feed-dispatch``: the event feed's dispatcher as a worker of its own (docs/feed.md).

    kasda feed-dispatch                 # until SIGTERM or Ctrl-C
    kasda feed-dispatch --pemda 32.73   # with KASDA_TENANCY=schema: that pemda's store
    kasda feed-dispatch --once          # one turn (cron, a test), then exit

``kasda serve`` runs the same dispatcher in its process (``KASDA_FEED_DISPATCH``, the default); a
lease in the database lets one of them send at a time, so running both is safe. The worker keeps
the read models it reads current itself (a catch-up each turn), so it needs no API running.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Any, TextIO

from feed.dispatcher import Dispatcher
from kasda.settings import Settings
from projections.runner import Projector


def add_parser(sub: Any) -> None:
    worker = sub.add_parser("feed-dispatch", help="deliver the event feed's webhooks")
    worker.add_argument("--pemda", help="the pemda's store (KASDA_TENANCY=schema)")
    worker.add_argument("--once", action="store_true", help="one turn, then exit")


def run(args: argparse.Namespace, settings: Settings, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    feed_settings = settings.api().events  # the key `kasda serve` signs with
    ledger = settings.open_ledger()
    projector = Projector(ledger, timezone=settings.timezone)
    dispatcher = Dispatcher(ledger, feed_settings, catch_up=projector.catch_up)
    try:
        if args.once:
            sent = dispatcher.tick()
            dispatcher.collect(wait=True)  # every delivery of the turn ends before stopping
            out.write(f"kasda feed-dispatch: {sent} deliveries attempted\n")
            return 0
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        dispatcher.start()
        out.write("kasda feed-dispatch: delivering (SIGTERM or Ctrl-C stops)\n")
        out.flush()
        while not stop.wait(1.0):
            pass
        return 0
    finally:
        dispatcher.stop()
        projector.close()
        ledger.close()
