"""The event feed on the demo year: how fast a subscriber's pull answers, and whether a dispatcher
delivering the whole year's backlog slows the ledger's writes.

The script builds the demo year with ``kasda demo`` (or uses ``--store DIR``, where one built before
is kept), catches the read models up, and subscribes a receiver on 127.0.0.1 (``testkit.feed``,
answering 200 at once) to every kind of the feed. Then, in one run:

1. **Pull.** ``GET /feed/{pemda}/events?after=<a random position of the feed>&limit=100`` through
   the API app in process (``TestClient``, no sockets), ``--requests`` times after ``--warmup``,
   with the reference ``GET /healthz`` through the same client, interleaved.
2. **Writes beside the dispatcher.** ``--writes`` commands (a vendor registered each) one after
   another, timed each, in rounds alternating: no dispatcher; the dispatcher delivering the year's
   backlog (its cursor back at 0 at each round's start) with its own projector catching up, as
   ``kasda feed-dispatch`` runs. The deliveries made during each round are counted.

    .venv/bin/python benchmarks/bench_feed.py --store /tmp/feed_demo
    .venv/bin/python benchmarks/bench_feed.py --lifecycles 200    # a smaller year, quicker
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script: testkit

from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from feed import signing
from feed.delivery import Deliveries
from feed.dispatcher import Dispatcher
from feed.settings import FeedSettings
from kasda.demo.pemda import DEFAULT_LIFECYCLES, PEMDA, YEAR
from ledger import commands as c
from ledger.application import Ledger
from ledger.roles import Actor, Role
from projections.runner import Projector
from testkit.feed import Receiver, receiver

KINDS = ("Budget.*", "BudgetLine.*", "Vendor.*", "Disbursement.*", "Revenue.*")
ADMIN = Actor("bench.bpkad", Role.BPKAD_ADMIN)


def percentiles(values: list[float]) -> tuple[float, float, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]
    return ordered[len(ordered) // 2], p95, ordered[-1]


def build_year(folder: Path, lifecycles: int) -> Path:
    path = folder / "kasda.db"
    if path.exists():
        return path
    env = {
        **os.environ,
        "KASDA_DATABASE_URL": f"sqlite:///{path}",
        "KASDA_DEMO_SERVE": "0",
        "KASDA_JWT_SECRET_FILE": str(folder / "jwt.key"),
    }
    command = [
        sys.executable,
        "-c",
        "import sys; from kasda.cli import main; sys.exit(main())",
        "demo",
        "--seed",
        str(YEAR),
        "--lifecycles",
        str(lifecycles),
    ]
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    return path


def pull_times(
    url: str, subscription: str, positions: list[int], requests: int, warmup: int
) -> tuple[list[float], list[float]]:
    config = ApiSettings(database_url=url, jwt_secret=secrets.token_urlsafe(48))
    token = signing.pull_token(config.events.key, subscription, 0)
    pulls: list[float] = []
    reference: list[float] = []
    rng = random.Random(YEAR)
    with TestClient(create_app(config)) as client:
        headers = {"Authorization": f"Bearer {token}"}
        for n in range(warmup + requests):
            after = rng.choice(positions)
            started = time.perf_counter()
            answer = client.get(
                f"/feed/{PEMDA}/events", params={"after": after, "limit": 100}, headers=headers
            )
            pulled = time.perf_counter() - started
            assert answer.status_code == 200, answer.text
            started = time.perf_counter()
            assert client.get("/healthz").status_code == 200
            healthz = time.perf_counter() - started
            if n >= warmup:
                pulls.append(pulled * 1000)
                reference.append(healthz * 1000)
    return pulls, reference


def write_round(ledger: Ledger, writes: int, tag: str) -> list[float]:
    times = []
    for n in range(writes):
        npwp = f"09{tag}{n:05d}"  # 15 digits: tag is 8
        command = c.RegisterVendor(
            idempotency_key=f"bench-feed-{tag}-{n}",
            actor=ADMIN,
            pemda=PEMDA,
            npwp=npwp,
            name=f"CV Bench {tag} {n}",
            kind="media",
            bank_code="110",
            account_number=f"{n:010d}",
            account_holder=f"CV Bench {tag} {n}",
        )
        started = time.perf_counter()
        ledger.execute(command)
        times.append((time.perf_counter() - started) * 1000)
    return times


def write_rounds(
    ledger: Ledger,
    projector: Projector,
    made: str,
    seen: Receiver,
    writes: int,
    rounds: int,
    run: str,
) -> None:
    """Rounds of writes, alternating: no dispatcher; one delivering the year's backlog."""
    settings = FeedSettings(key="k" * 32, interval=0.05)
    print("| round | dispatcher | writes | p50 ms | p95 ms | writes/s | delivered |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for round_ in range(rounds * 2):
        dispatching = round_ % 2 == 1
        dispatcher: Dispatcher | None = None
        worker_projector: Projector | None = None
        if dispatching:
            Deliveries(projector.db).rewind(made, 0, ADMIN.user_id)
            worker_projector = Projector(ledger)
            dispatcher = Dispatcher(ledger, settings, catch_up=worker_projector.catch_up)
            dispatcher.start()
            time.sleep(1.0)  # under way
        before = len(seen.attempts)
        started = time.perf_counter()
        times = write_round(ledger, writes, f"{int(run, 16) % 10**6:06d}{round_:02d}")
        seconds = time.perf_counter() - started
        delivered = len(seen.attempts) - before
        if dispatcher is not None and worker_projector is not None:
            dispatcher.stop()
            worker_projector.close()
        w50, w95, _ = percentiles(times)
        print(
            f"| {round_ + 1} | {'delivering' if dispatching else 'off'} | {writes} | "
            f"{w50:.2f} | {w95:.2f} | {writes / seconds:.0f} | "
            f"{delivered if dispatching else '-'} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", type=Path, help="a folder with (or for) the demo year's store")
    parser.add_argument("--lifecycles", type=int, default=DEFAULT_LIFECYCLES)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--writes", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2, help="pairs of write rounds")
    args = parser.parse_args()
    folder = args.store or Path(tempfile.mkdtemp(prefix="bench-feed-"))
    folder.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{build_year(folder, args.lifecycles)}"
    run = secrets.token_hex(3)
    load = os.getloadavg()
    cpu = platform.processor() or platform.machine()
    print(f"machine: {cpu}, {os.cpu_count()} CPUs, load average {load[0]:.1f} at start")

    ledger = Ledger(url)
    projector = Projector(ledger)
    projector.catch_up()
    with receiver() as seen:
        made = ledger.execute(
            c.CreateFeedSubscription(
                idempotency_key=f"bench-feed-{run}",
                actor=ADMIN,
                pemda=PEMDA,
                name=f"bench-{run}",
                url=seen.url,
                kinds=KINDS,
            )
        ).id
        projector.catch_up()
        with projector.db.transaction(write=False) as cursor:
            positions = [
                int(r[0])
                for r in cursor.fetchall(
                    "SELECT position FROM proj_feed WHERE pemda = ? ORDER BY position", (PEMDA,)
                )
            ]
        print(
            f"demo year: {len(positions)} events in the feed of pemda {PEMDA}, log head "
            f"{projector.position()}"
        )

        pulls, reference = pull_times(url, made, positions, args.requests, args.warmup)
        p50, p95, top = percentiles(pulls)
        r50, r95, rtop = percentiles(reference)
        print(
            f"pull, limit 100 ({args.requests} requests): p50 {p50:.2f} ms, p95 {p95:.2f} ms, "
            f"max {top:.2f} ms; /healthz p50 {r50:.2f} ms, p95 {r95:.2f} ms, max {rtop:.2f} ms; "
            f"p95 ratio {p95 / r95:.1f}x"
        )

        write_rounds(ledger, projector, made, seen, args.writes, args.rounds, run)
    projector.close()
    ledger.close()
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
