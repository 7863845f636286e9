"""How fast the public portal (``/publik``, issue 18) answers on the demo year, signed out.

The script builds the demo year as ``kasda demo --seed 2026`` does (``bench_web.build_year``: into a
temporary folder, or into ``--store DIR``, where a year built before with the same seed is kept),
starts ``kasda serve`` on 127.0.0.1 with its default workers (one) and demo mode on, and requests
the portal's pages: the overview, the payments list (plain, searched, filtered, pages through the
whole year), one payment, the verification page, and revalidations (``If-None-Match`` -> 304). In
the same run it times a reference: ``GET /healthz``, a bare FastAPI endpoint of the same server
(no database, no template), so that the ratio says what the portal adds to the cost of any answer.

Three phases:

1. **One at a time**: ``--requests`` rounds, round robin over the rows on one keep-alive
   connection (as ``bench_web.py``), after ``--warmup`` uncounted rounds. The very first request
   of the run is reported apart: it computes the pemda-year at this log position (the cache is
   empty); every later one finds it kept.
2. **Concurrent**: ``--clients`` clients (threads, a keep-alive connection each) request a
   random row of the portal (not the reference) for ``--seconds``; each latency is the client's.
   Then the same clients on the reference alone for a third of that: what the machine and the
   server's one process cost any answer at that concurrency.
3. **Concurrent, while the log moves**: the same, while a writer registers a vendor through the
   API ``--writes`` times a second (BPKAD's bearer token): every write moves the log position, so
   the portal's kept pemda-year is stale and computed again by the next request (the worst case
   of "once per position"; a vendor registration changes no public figure, but the portal cannot
   know that). The server serves a copy of the demo store, which is left as it was built.

Times are the client's round trip on the loopback interface (sent to read); the client shares the
machine's CPUs with the server.

    .venv/bin/python benchmarks/bench_publik.py --store /tmp/publik-demo
    .venv/bin/python benchmarks/bench_publik.py --requests 200 --clients 8 --seconds 20
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script

from benchmarks.bench_web import build_year, free_port, machine, start_server, token
from kasda.demo.pemda import DEFAULT_LIFECYCLES, PEMDA, SKPDS, YEAR
from ledger.roles import Role
from testkit.api import vendor_body

TARGET_P95_MS = 100.0


@dataclass
class Row:
    path: str
    kind: str  # "portal", "304" or "reference"
    etag: str | None = None  # sent as If-None-Match (the 304 rows)
    times: list[float] = field(default_factory=list)  # ms
    statuses: set[int] = field(default_factory=set)
    size: int = 0


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def timed(client: httpx.Client, row: Row) -> tuple[float, httpx.Response]:
    headers = {"If-None-Match": row.etag} if row.etag else {}
    started = time.perf_counter()
    answer = client.get(row.path, headers=headers)
    return (time.perf_counter() - started) * 1000, answer


def portal_rows(client: httpx.Client) -> list[Row]:
    """The portal's addresses: the overview, pages of the year's payments (the second, the
    middle, the last), searches, filters, one payment, the verification page; then the overview
    and the list again with their ETag (304)."""
    place = f"pemda={PEMDA}&tahun={YEAR}"
    first = client.get(f"/publik/pembayaran?{place}")
    first.raise_for_status()
    total = int(first.text.split('data-total="', 1)[1].split('"', 1)[0])
    payment = first.text.split('<tr data-id="', 1)[1].split('"', 1)[0]
    pages = -(-total // 50)
    skpd = SKPDS[0].code
    paths = [
        f"/publik?{place}",
        "/publik",  # the defaults: the only pemda, the latest year with payments
        f"/publik/pembayaran?{place}",
        *(f"/publik/pembayaran?{place}&halaman={n}" for n in sorted({2, pages // 2, pages})),
        f"/publik/pembayaran?{place}&cari=PT",
        f"/publik/pembayaran?{place}&cari=belanja+modal",
        f"/publik/pembayaran?{place}&cari=tidak+ada+yang+cocok",
        f"/publik/pembayaran?{place}&skpd={skpd}",
        f"/publik/pembayaran?{place}&skpd={skpd}&bulan=6&jenis=company&status=dibayar",
        f"/publik/pembayaran?{place}&jenis=media&halaman=2",
        f"/publik/pembayaran/{payment}?{place}",
        f"/publik/verifikasi?{place}",
    ]
    rows = [Row(path, "portal") for path in paths]
    for path in (f"/publik?{place}", f"/publik/pembayaran?{place}"):
        tag = client.get(path).headers["etag"]
        rows.append(Row(path, "304", etag=tag))
    return rows


def one_at_a_time(base: str, requests: int, warmup: int) -> tuple[list[Row], float]:
    """Round robin; returns the rows and the first (uncached) request's time."""
    with httpx.Client(base_url=base, timeout=30) as client:
        cold, _ = timed(client, Row(f"/publik/pembayaran?pemda={PEMDA}&tahun={YEAR}", "portal"))
        rows = [*portal_rows(client), Row("/healthz", "reference")]
        for i in range(warmup + requests):
            for row in rows:
                elapsed, answer = timed(client, row)
                if i >= warmup:
                    row.times.append(elapsed)
                    row.statuses.add(answer.status_code)
                    row.size = len(answer.content)
    return rows, cold


def concurrent(base: str, rows: list[Row], clients: int, seconds: float) -> tuple[list[float], int]:
    """``clients`` threads, each a connection, each requesting a random portal row (the
    reference, if ``rows`` holds only it) until the time is up; the latencies (ms) and the number
    of answers that were not 200/304."""
    portal = [r for r in rows if r.kind != "reference"] or rows
    times: list[float] = []
    bad = [0]
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def work(seed: int) -> None:
        chooser = random.Random(seed)
        mine: list[float] = []
        wrong = 0
        with httpx.Client(base_url=base, timeout=30) as client:
            while time.monotonic() < deadline:
                elapsed, answer = timed(client, chooser.choice(portal))
                mine.append(elapsed)
                wrong += answer.status_code not in (200, 304)
        with lock:
            times.extend(mine)
            bad[0] += wrong

    threads = [threading.Thread(target=work, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return times, bad[0]


class Writer(threading.Thread):
    """Registers a vendor through the API ``rate`` times a second until stopped."""

    def __init__(self, base: str, bearer: str, rate: float) -> None:
        super().__init__(daemon=True)
        self.base, self.rate = base, rate
        self.headers = {"Authorization": f"Bearer {bearer}"}
        self.stop = threading.Event()
        self.written = 0
        self.refused = 0

    def run(self) -> None:
        with httpx.Client(base_url=self.base, timeout=30, headers=self.headers) as client:
            n = 0
            while not self.stop.wait(1 / self.rate):
                n += 1
                body = vendor_body(f"09{n:013d}", f"PT Bench Publik {n}")
                answer = client.post(f"/pemda/{PEMDA}/vendors", json=body,
                                     headers={"Idempotency-Key": f"bench-publik-{n}"})  # fmt: skip
                if answer.status_code in (200, 201):
                    self.written += 1
                else:
                    self.refused += 1


def position_of(base: str) -> int:
    answer = httpx.get(f"{base}/publik/verifikasi", timeout=30)
    return int(answer.text.split('data-position="', 1)[1].split('"', 1)[0])


def while_writing(base: str, rows: list[Row], args: argparse.Namespace, bearer: str) -> str:
    """Phase 3: the concurrent clients while a writer moves the log; its summary line."""
    before = position_of(base)
    writer = Writer(base, bearer, args.writes)
    writer.start()
    try:
        times, bad = concurrent(base, rows, args.clients, args.seconds)
    finally:
        writer.stop.set()
        writer.join(timeout=30)
    moved = position_of(base) - before
    return (
        f"{args.clients} clients for {args.seconds:g} s while {writer.written} vendors were "
        f"registered ({args.writes:g}/s; {writer.refused} refused; the log moved {moved}): "
        f"{len(times)} requests ({len(times) / args.seconds:.0f}/s), p50 "
        f"{percentile(times, 0.5):.1f} ms, p95 {percentile(times, 0.95):.1f} ms, p99 "
        f"{percentile(times, 0.99):.1f} ms, not 200/304: {bad}"
    )


def report(
    rows: list[Row], cold: float, loaded: tuple[list[float], int], args: argparse.Namespace
) -> bool:
    reference = next(r for r in rows if r.kind == "reference")
    ref50 = percentile(reference.times, 0.5)
    print(f"\nfirst request (computes the pemda-year at this position): {cold:.1f} ms")
    print(f"\n{args.requests} requests per row after {args.warmup} warm-up, one at a time:\n")
    print(
        "| path | kind | status | bytes | p50 ms | p95 ms | p99 ms | max ms | p50 / healthz p50 |"
    )
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    portal_times: list[float] = []
    for row in rows:
        p50, p95, p99 = (percentile(row.times, s) for s in (0.5, 0.95, 0.99))
        status = ",".join(str(s) for s in sorted(row.statuses))
        print(f"| `{row.path}` | {row.kind} | {status} | {row.size:,} | {p50:.1f} | {p95:.1f} | "
              f"{p99:.1f} | {max(row.times):.1f} | {p50 / ref50:.1f} |")  # fmt: skip
        if row.kind != "reference":
            portal_times += row.times
    all95 = percentile(portal_times, 0.95)
    print(f"\nevery portal request, one at a time: {len(portal_times)} requests, p50 "
          f"{percentile(portal_times, 0.5):.1f} ms, p95 {all95:.1f} ms, p99 "
          f"{percentile(portal_times, 0.99):.1f} ms")  # fmt: skip
    times, bad = loaded
    load95 = percentile(times, 0.95) if times else float("inf")
    if times:
        print(f"{args.clients} clients for {args.seconds:g} s: {len(times)} requests "
              f"({len(times) / args.seconds:.0f}/s), p50 {percentile(times, 0.5):.1f} ms, p95 "
              f"{load95:.1f} ms, p99 {percentile(times, 0.99):.1f} ms, not 200/304: {bad}")  # fmt: skip
    ref_times, _ = args.reference
    print(f"{args.clients} clients for {args.seconds / 3:g} s on /healthz (the reference): "
          f"{len(ref_times)} requests, p50 {percentile(ref_times, 0.5):.1f} ms, p95 "
          f"{percentile(ref_times, 0.95):.1f} ms, p99 {percentile(ref_times, 0.99):.1f} ms")  # fmt: skip
    if args.written:
        print(args.written)
    print("\n" + "\n".join(machine()))
    expected = {"portal": {200}, "304": {304}, "reference": {200}}
    return all(r.statuses == expected[r.kind] for r in rows) and bad == 0 and all95 < TARGET_P95_MS


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=100, help="per row (default 100)")
    parser.add_argument("--warmup", type=int, default=3, help="per row, not counted (default 3)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (default 8)")
    parser.add_argument("--seconds", type=float, default=15.0, help="of the concurrent phase")
    parser.add_argument("--writes", type=float, default=2.0,
                        help="vendor registrations a second in phase 3 (0: no phase 3)")  # fmt: skip
    parser.add_argument("--lifecycles", type=int, default=DEFAULT_LIFECYCLES)
    parser.add_argument("--store", type=Path, help="folder of the demo store (default: temporary)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-publik-") as scratch:
        folder = args.store or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "KASDA_DATABASE_URL": f"sqlite:///{folder / 'kasda.db'}",
            "KASDA_JWT_SECRET_FILE": str(Path(scratch) / "jwt.key"),
            "KASDA_DEMO_MODE": "1",
            "KASDA_DEMO_SERVE": "0",
        }
        built = build_year(env, args.lifecycles)
        print(f"demo year (seed {YEAR}, {args.lifecycles} lifecycles) ready in {built:.0f} s")
        served = Path(scratch) / "served"  # phase 3 writes: into a copy of the store
        served.mkdir()
        for made in folder.glob("kasda.db*"):
            shutil.copy(made, served / made.name)
        env["KASDA_DATABASE_URL"] = f"sqlite:///{served / 'kasda.db'}"
        port = free_port()
        server = start_server(env, port)
        base = f"http://127.0.0.1:{port}"
        args.written = ""
        try:
            rows, cold = one_at_a_time(base, args.requests, args.warmup)
            loaded = concurrent(base, rows, args.clients, args.seconds)
            reference = [r for r in rows if r.kind == "reference"]
            args.reference = concurrent(base, reference, args.clients, args.seconds / 3)
            if args.writes > 0:
                bearer = token(env, Role.BPKAD_ADMIN)
                args.written = while_writing(base, rows, args, bearer)
        finally:
            server.terminate()
            server.wait(timeout=30)
    return 0 if report(rows, cold, loaded, args) else 1


if __name__ == "__main__":
    sys.exit(main())
