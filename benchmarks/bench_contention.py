"""Contention: three writer processes request disbursements on ONE budget line at the same moment.

Every request commits on the same ``BudgetLine`` aggregate, so at most one writer can append its
next version at a time; the others lose the race (the store's unique key), reload and try again,
up to ``MAX_ATTEMPTS``; after that the caller gets ``ConcurrencyConflict`` (safe to retry, but a
caller sees it). This measures how often that happens with the retries immediate
(``--backoff 0``, as before issue 12) and with the random backoff (``ledger.application
.RETRY_BACKOFF``), and what the backoff costs in throughput. The pagu is large enough for every
request: a refusal here can only be a conflict.

    .venv/bin/python benchmarks/bench_contention.py                    # both stores, both policies
    .venv/bin/python benchmarks/bench_contention.py --requests 200 --store sqlite
    .venv/bin/python benchmarks/bench_contention.py --what revenue     # receipts on ONE income line

``--what revenue``: the writers record income receipts (``RecordRevenue``, as the gateways do) on one
income line instead: since a receipt writes its income line (``BudgetLine.record_income``), they
collide on that line the same way (numbers only, issue 17).

``KASDA_TEST_POSTGRES_URL`` names the PostgreSQL server (skipped with a message if unreachable).
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing as mp
import platform
import sys
import tempfile
import time
import uuid
from collections import Counter
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script: testkit

from kasda.settings import Settings
from ledger import commands as c
from ledger.application import RETRY_BACKOFF, Ledger
from ledger.errors import DomainError
from ledger.roles import Actor, Role
from ledger.store import postgres_problem
from testkit.world import INCOME, MEDIA, NPWP, PEMDA, SKPD, SUB_KEGIATAN, USERS, YEAR

WRITERS = 3
LINE = c.LineSpec(
    skpd=SKPD,
    sub_kegiatan=SUB_KEGIATAN,
    rekening=MEDIA,
    uraian="Belanja Jasa Iklan/Reklame, Film, dan Pemotretan",
    pagu=10**15,
)
INCOME_LINE = c.LineSpec(
    skpd=SKPD, sub_kegiatan=SUB_KEGIATAN, rekening=INCOME, uraian="Pajak Hotel", pagu=10**15
)
ADMIN = Actor(USERS[Role.BPKAD_ADMIN], Role.BPKAD_ADMIN)
PPTK = Actor(USERS[Role.PPTK], Role.PPTK, SKPD)
GATEWAY = Actor(USERS[Role.GATEWAY], Role.GATEWAY)


def _ref(spec: c.LineSpec) -> c.LineRef:
    return c.LineRef(skpd=spec.skpd, sub_kegiatan=spec.sub_kegiatan, rekening=spec.rekening)


def _command(what: str, who: int, n: int) -> c.Command:
    """The ``n``-th command of writer ``who``: a disbursement request on the spending line, or an
    income receipt on the income line."""
    if what == "revenue":
        return c.RecordRevenue(
            idempotency_key=f"w{who}-{n}",
            actor=GATEWAY,
            pemda=PEMDA,
            year=YEAR,
            line=_ref(INCOME_LINE),
            channel="midtrans:qris",
            reference=f"ORDER-{who}-{n}",
            payer="Hotel Bench",
            gross=1_000_000,
        )
    return c.RequestDisbursement(
        idempotency_key=f"w{who}-{n}",
        actor=PPTK,
        pemda=PEMDA,
        year=YEAR,
        spp_number=f"SPP-{who}-{n}",
        line=_ref(LINE),
        vendor_npwp=NPWP,
        gross=1_000_000,
        deductions=(),
        description="Publikasi kegiatan",
        documents={},
    )


class _Retries(logging.Handler):
    """Counts the ledger's "optimistic concurrency conflict" lines: one per lost race."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "optimistic concurrency conflict" in record.getMessage():
            self.count += 1


def _set_up(url: str) -> None:
    ledger = Ledger(url)
    try:
        ledger.execute(
            c.AdoptBudget(
                idempotency_key="adopt",
                actor=ADMIN,
                pemda=PEMDA,
                year=YEAR,
                document="PERDA-1-2025",
                lines=(LINE, INCOME_LINE),
            )
        )
        ledger.execute(
            c.RegisterVendor(
                idempotency_key="vendor",
                actor=ADMIN,
                pemda=PEMDA,
                npwp=NPWP,
                name="PT Pikiran Rakyat Bandung",
                kind="media",
                bank_code="110",
                account_number="0012345678",
                account_holder="PT Pikiran Rakyat Bandung",
            )
        )
    finally:
        ledger.close()


def _writer(
    url: str,
    what: str,
    who: int,
    requests: int,
    backoff: float,
    barrier: Barrier,
    out: Queue[Any],
) -> None:
    try:
        retries = _Retries()
        logger = logging.getLogger("ledger.application")
        logger.setLevel(logging.INFO)
        logger.addHandler(retries)
        ledger = Ledger(url, retry_backoff=backoff)
        try:
            outcomes: Counter[str] = Counter()
            barrier.wait(timeout=60)
            started = time.perf_counter()
            for n in range(requests):
                [outcome] = ledger.execute_batch([_command(what, who, n)])
                outcomes[type(outcome).__name__ if isinstance(outcome, DomainError) else "ok"] += 1
            seconds = time.perf_counter() - started
        finally:
            ledger.close()
        out.put((who, outcomes, retries.count, seconds))
    except BaseException as error:  # report, never hang the parent
        out.put((who, error, 0, 0.0))


def run(url: str, requests: int, backoff: float, what: str = "disbursement") -> dict[str, Any]:
    _set_up(url)
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(WRITERS)
    out: Queue[Any] = ctx.Queue()
    processes = [
        ctx.Process(target=_writer, args=(url, what, w, requests, backoff, barrier, out))
        for w in range(WRITERS)
    ]
    for process in processes:
        process.start()
    total: Counter[str] = Counter()
    retries = 0
    slowest = 0.0
    for _ in processes:
        who, outcomes, lost, seconds = out.get(timeout=600)
        if isinstance(outcomes, BaseException):
            raise RuntimeError(f"writer {who} failed") from outcomes
        total.update(outcomes)
        retries += lost
        slowest = max(slowest, seconds)
    for process in processes:
        process.join(timeout=30)
    sent = WRITERS * requests
    return {
        "sent": sent,
        "ok": total["ok"],
        "conflicts": total["ConcurrencyConflict"],
        "other": sent - total["ok"] - total["ConcurrencyConflict"],
        "retries": retries,
        "per_s": sent / slowest if slowest else 0.0,
    }


def _postgres_url(base: str) -> tuple[str, str]:
    schema = f"bench_contention_{uuid.uuid4().hex[:8]}"
    return f"{base}{'&' if '?' in base else '?'}schema={schema}", schema


def _drop_schema(base: str, schema: str) -> None:
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=150, help="per writer (default 150)")
    parser.add_argument("--store", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--repeat", type=int, default=2, help="runs per row (default 2)")
    parser.add_argument(
        "--what",
        choices=["disbursement", "revenue"],
        default="disbursement",
        help="requests on one spending line (default) or income receipts on one income line",
    )
    args = parser.parse_args()
    print(f"{platform.node()}: {platform.processor() or platform.machine()}, {mp.cpu_count()} CPUs")
    kind = "income receipts, one income line" if args.what == "revenue" else "requests, one line"
    print(f"{WRITERS} writer processes x {args.requests} {kind}, batch of 1")
    print(
        f"{'store':9} {'backoff':>8} {'sent':>5} {'ok':>5} {'conflicts':>9} {'rate':>7} "
        f"{'retries':>8} {'req/s':>7}"
    )
    stores = ["sqlite", "postgres"] if args.store == "both" else [args.store]
    base = Settings.from_env().test_postgres_url
    for store in stores:
        if store == "postgres" and (problem := postgres_problem(base)):
            print(f"postgres: skipped ({problem})")
            continue
        for backoff in (0.0, RETRY_BACKOFF):
            for _ in range(args.repeat):
                schema = ""
                with tempfile.TemporaryDirectory() as tmp:
                    if store == "sqlite":
                        url = f"sqlite:///{Path(tmp) / 'contention.db'}"
                    else:
                        url, schema = _postgres_url(base)
                    try:
                        r = run(url, args.requests, backoff, args.what)
                    finally:
                        if schema:
                            _drop_schema(base, schema)
                label = f"{backoff * 1000:.0f} ms" if backoff else "none"
                print(
                    f"{store:9} {label:>8} {r['sent']:>5} {r['ok']:>5} {r['conflicts']:>9} "
                    f"{r['conflicts'] / r['sent']:>7.2%} {r['retries']:>8} {r['per_s']:>7.0f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
