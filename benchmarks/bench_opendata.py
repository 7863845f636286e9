"""How fast the open data (``/publik/data/``, docs/opendata.md) answers on the demo year.

The script builds the demo year with the demo command (``kasda demo``, into a temporary folder, or
into ``--store DIR``, where a year built before with the same seed is found and kept), starts
``kasda serve`` on 127.0.0.1 with its default workers (one), and, signed out, requests each file
of the demo year, the index page and ``kamus.json`` ``--requests`` times on one keep-alive
connection, after ``--warmup`` requests that are not counted: one request at a time, round robin
over the rows. Each file twice: a plain GET (the file as the in-process cache keeps it, after the
first request renders it) and a GET with ``If-None-Match`` naming its ETag (304, nothing rendered).
``GET /healthz`` is the same-run reference: the cost of a request that does nothing.

Then, in this process, the cost of rendering each file afresh (what the first request after the
log moved pays): ``opendata.files.produce`` with an empty cache, ``--renders`` times each, on a
connection of its own to the same store's read models.

Times are the client's round trip on the loopback interface; the client shares the machine's CPUs
with the server.

    .venv/bin/python benchmarks/bench_opendata.py                 # the full demo year
    .venv/bin/python benchmarks/bench_opendata.py --store /tmp/demo --requests 200
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script: testkit

from benchmarks.bench_web import Row, build_year, free_port, machine, start_server, table
from kasda.demo.pemda import DEFAULT_LIFECYCLES, PEMDA, YEAR
from ledger.application import Ledger
from opendata.cache import Renditions
from opendata.dictionary import DATASETS
from opendata.files import Context, Wanted, produce
from projections.db import ReadDatabase

QUERY = f"pemda={PEMDA}&tahun={YEAR}"


def rows_of(client: httpx.Client) -> list[tuple[Row, dict[str, str]]]:
    """Each file plain and conditional (its ETag read once first), the index, the dictionary and
    the reference."""
    rows: list[tuple[Row, dict[str, str]]] = []
    for file in DATASETS:
        path = f"/publik/data/{file}?{QUERY}"
        first = client.get(path)
        first.raise_for_status()
        rows.append((Row("-", path, "file"), {}))
        rows.append((Row("-", path, "304"), {"If-None-Match": first.headers["etag"]}))
    rows.append((Row("-", f"/publik/data/?{QUERY}", "page"), {}))
    rows.append((Row("-", "/publik/data/kamus.json", "file"), {}))
    rows.append((Row("-", "/healthz", "reference"), {}))
    return rows


def run(base: str, requests: int, warmup: int) -> list[Row]:
    with httpx.Client(base_url=base, timeout=30) as client:
        rows = rows_of(client)
        for i in range(warmup + requests):
            for row, headers in rows:
                started = time.perf_counter()
                answer = client.get(row.path, headers=headers)
                elapsed = (time.perf_counter() - started) * 1000
                if i >= warmup:
                    row.times.append(elapsed)
                    row.statuses.add(answer.status_code)
                    row.size = len(answer.content)
    return [row for row, _ in rows]


def renders(url: str, repeats: int) -> list[Row]:
    """Each file rendered afresh (an empty cache each time), in this process."""
    ledger = Ledger(url)
    db = ReadDatabase(ledger)
    found: list[Row] = []
    try:
        for file in DATASETS:
            wanted = Wanted.parse(file, PEMDA, str(YEAR))
            row = Row("-", file, "render")
            for _ in range(repeats):
                context = Context("bench", Renditions(), "http://127.0.0.1", "ocds-kasda")
                started = time.perf_counter()
                made = produce(db, wanted, context)
                row.times.append((time.perf_counter() - started) * 1000)
                row.statuses.add(200 if made.body else 304)
                row.size = len(made.body or b"")
            found.append(row)
    finally:
        db.close()
        ledger.close()
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=100, help="per row (default 100)")
    parser.add_argument("--warmup", type=int, default=5, help="per row, not counted (default 5)")
    parser.add_argument("--renders", type=int, default=20, help="per file (default 20)")
    parser.add_argument("--lifecycles", type=int, default=DEFAULT_LIFECYCLES)
    parser.add_argument("--store", type=Path, help="folder of the demo store (default: temporary)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-opendata-") as scratch:
        folder = args.store or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{folder / 'kasda.db'}"
        env = {**os.environ, "KASDA_DATABASE_URL": url, "KASDA_DEMO_SERVE": "0",
               "KASDA_JWT_SECRET_FILE": str(Path(scratch) / "jwt.key")}  # fmt: skip
        built = build_year(env, args.lifecycles)
        print(f"demo year (seed {YEAR}, {args.lifecycles} lifecycles) ready in {built:.0f} s")
        port = free_port()
        server = start_server(env, port)
        try:
            served = run(f"http://127.0.0.1:{port}", args.requests, args.warmup)
        finally:
            server.terminate()
            server.wait(timeout=30)
        rendered = renders(url, args.renders)
    print(f"\n{args.requests} requests per row after {args.warmup} warm-up, client round trip:\n")
    print("\n".join(table(served)))
    print(f"\neach file rendered afresh in this process, {args.renders} times:\n")
    print("\n".join(table(rendered)))
    print("\n" + "\n".join(machine()))
    expected = {"file": {200}, "304": {304}, "page": {200}, "reference": {200}, "render": {200}}
    return 0 if all(row.statuses == expected[row.kind] for row in served + rendered) else 1


if __name__ == "__main__":
    sys.exit(main())
