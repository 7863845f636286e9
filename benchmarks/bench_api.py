"""Latency and throughput of the HTTP API under mixed traffic, on PostgreSQL, over loopback.

The script starts ``kasda serve`` (uvicorn, ``--workers`` processes) on 127.0.0.1 against a fresh
PostgreSQL schema, seeds a small world through the API (an APBD of ``LINES`` lines, a few vendors,
``--seed-payments`` requested payments to read), then drives open-loop traffic at ``--rate``
requests per second for ``--duration`` seconds (plus ``--warmup`` seconds not counted) with an async
httpx client, and stops by itself. Requests are scheduled at fixed times; each latency is measured
from its scheduled time (so a server that falls behind is charged for the queue it causes), and the
time from the actual send is reported too.

Routes are a list: add a read route with one line in ``ROUTES``. The mix: 50% reads of a payment,
20% of its history, 10% LRA (read models), 20% requests for payment.

    .venv/bin/python benchmarks/bench_api.py                       # 500 req/s, 20 s, 2 workers
    .venv/bin/python benchmarks/bench_api.py --rate 250 --workers 3 --duration 30
    .venv/bin/python benchmarks/bench_api.py --lra-freshness after   # read-your-writes client

The LRA is read with the API's default freshness (``recent``) unless ``--lra-freshness`` says
``latest``, ``recent`` or ``after``: the last passes ``after=<position>`` with the position of the
most recent write answer the load generator has seen (a client that reads its own writes).

``--profile DIR`` also records each uvicorn worker with py-spy (a dev dependency) during the
measured seconds: ``DIR/worker-<pid>.txt``, py-spy's raw folded stacks, only samples in which a
thread holds the GIL (``--gil``: Python's own CPU, not the waits for PostgreSQL). On a loaded
machine a thread that holds the GIL while it is descheduled is sampled too: read the shares as
rough, and take the CPU per request for an A/B.

``KASDA_TEST_POSTGRES_URL`` (default ``postgresql://postgres@127.0.0.1:5432/test``) names the server.
The schema is dropped afterwards. The load generator shares the machine's CPUs with the server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import secrets
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script: testkit

from api.settings import ApiSettings
from kasda.settings import Settings
from ledger.roles import Role
from testkit.api import token, vendor_body
from testkit.world import PEMDA, SKPD, SUB_KEGIATAN, YEAR

T = TypeVar("T")
LINES = 50
VENDORS = 5


@dataclass
class World:
    """What the routes need: ids to read, and tokens."""

    tokens: dict[Role, str]
    disbursements: list[str] = field(default_factory=list)
    run: str = field(default_factory=lambda: secrets.token_hex(3))
    lra_freshness: str | None = None  # None: the API's default; "after": read-your-writes
    position: int = 0  # the highest position a write answer gave (CommandOut.position)

    def pick(self, i: int) -> str:
        return self.disbursements[(i * 7919) % len(self.disbursements)]


Request = tuple[str, str, dict[str, Any] | None]  # method, path, JSON body


@dataclass(frozen=True)
class Route:
    name: str
    kind: str  # "read" or "write"
    weight: float  # share of the traffic (normalised over all routes)
    role: Role
    build: Callable[[World, int], Request]


def rekening(n: int) -> str:
    return f"5.1.02.02.01.{1 + n % LINES:04d}"


def npwp(n: int) -> str:
    return f"01{n % VENDORS:013d}"


def request_payment(world: World, i: int) -> Request:
    body = {
        "year": YEAR,
        "spp_number": f"B{world.run}-{i}",
        "line": {"skpd": SKPD, "sub_kegiatan": SUB_KEGIATAN, "rekening": rekening(i)},
        "vendor_npwp": npwp(i),
        "gross": 1_000_000 + i % 1000,
        "deductions": [{"code": "PPH23", "amount": 20_000}],
        "description": "Belanja jasa publikasi",
        "documents": {"contract": f"KONTRAK/{i}"},
    }
    return "POST", f"/pemda/{PEMDA}/disbursements", body


def lra_path(world: World) -> str:
    path = f"/pemda/{PEMDA}/lra?year={YEAR}&level=rekening"
    if world.lra_freshness == "after":
        return f"{path}&after={world.position}"
    if world.lra_freshness is not None:
        return f"{path}&freshness={world.lra_freshness}"
    return path


def saw_write(world: World, body: bytes) -> None:
    """Keep the position of a write's answer, for ``after`` (only in that mode: parsing costs)."""
    if world.lra_freshness == "after":
        world.position = max(world.position, int(json.loads(body)["position"]))


ROUTES: list[Route] = [
    Route(
        "disbursement",
        "read",
        0.5,
        Role.AUDITOR,
        lambda w, i: ("GET", f"/pemda/{PEMDA}/disbursements/{w.pick(i)}", None),
    ),
    Route(
        "history",
        "read",
        0.2,
        Role.AUDITOR,
        lambda w, i: ("GET", f"/pemda/{PEMDA}/disbursements/{w.pick(i)}/history", None),
    ),
    # The LRA per rekening (all LINES lines) from the read models. The API's default (recent)
    # answers from what the follower has; freshness=latest waits for the projection to include
    # every write of the mix; after=<position> only for the writes this client saw answered
    # (api/readmodels.py).
    Route("lra", "read", 0.1, Role.AUDITOR, lambda w, i: ("GET", lra_path(w), None)),
    Route("request", "write", 0.2, Role.PPTK, request_payment),
    # Calibration only (--only me / --only healthz): the cost of the HTTP stack and of the token.
    Route("me", "read", 0.0, Role.AUDITOR, lambda w, i: ("GET", f"/pemda/{PEMDA}/me", None)),
    Route("healthz", "read", 0.0, Role.AUDITOR, lambda w, i: ("GET", "/healthz", None)),
    # The same-run reference (--reference): a bare FastAPI endpoint, served as kasda is.
    Route("hello", "read", 0.0, Role.AUDITOR, lambda w, i: ("GET", "/hello", None)),
]

# Issue 17's targets for the API (the mix with read-your-writes on every LRA read, 500/s, 2 cores).
TARGET_CPU_MS = 1.0
TARGET_P99_MS = 50.0


def hello() -> Any:
    """The reference server (uvicorn factory): a bare FastAPI app answering a small JSON body,
    so that the CPU per request of kasda's mix can be given as a ratio measured in the same run."""
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/hello")
    async def hello_route() -> dict[str, str]:
        return {"hello": "world"}

    return app


# The mix before the LRA route existed (50% payment, 30% history, 20% write), kept so that the
# two can be compared under the same conditions: --mix old.
OLD_MIX = {"disbursement": 0.5, "history": 0.3, "lra": 0.0, "request": 0.2}


@dataclass
class Sample:
    route: str
    status: int
    latency: float  # from the scheduled time
    service: float  # from the actual send
    measured: bool


# -- the server --------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_server(
    env: dict[str, str], port: int, workers: int, *, reference: bool = False
) -> subprocess.Popen[bytes]:
    """``kasda serve``; with ``reference``, uvicorn serving ``hello`` with the same settings
    (uvloop and httptools when installed, no access log, ``workers`` processes)."""
    common = ["--port", str(port), "--workers", str(workers), "--log-level", "warning"]
    if reference:
        command = [sys.executable, "-m", "uvicorn", "--factory", "benchmarks.bench_api:hello"]
        command += [*common, "--no-access-log"]
        probe = "/hello"
    else:
        command = [sys.executable, "-m", "kasda.cli", "serve", *common]
        probe = "/healthz"
    root = str(Path(__file__).resolve().parent.parent)
    process = subprocess.Popen(command, env={**env, "PYTHONPATH": root}, cwd=root)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}{probe}", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.terminate()
    raise SystemExit("the server did not answer within 60 s")


def seed(base: str, world: World, payments: int) -> None:
    admin = {"Authorization": f"Bearer {world.tokens[Role.BPKAD_ADMIN]}"}
    pptk = {"Authorization": f"Bearer {world.tokens[Role.PPTK]}"}
    with httpx.Client(base_url=base, timeout=30) as client:
        lines = [
            {
                "skpd": SKPD,
                "sub_kegiatan": SUB_KEGIATAN,
                "rekening": rekening(n),
                "uraian": f"Belanja {n}",
                "pagu": 10**14,
            }
            for n in range(LINES)
        ]
        adopt = {"year": YEAR, "document": "PERDA-1-2025", "lines": lines}
        _ok(
            client.post(
                f"/pemda/{PEMDA}/budgets",
                json=adopt,
                headers={**admin, "Idempotency-Key": "seed-adopt"},
            )
        )
        for n in range(VENDORS):
            _ok(
                client.post(
                    f"/pemda/{PEMDA}/vendors",
                    json=vendor_body(npwp(n), f"PT Vendor {n}"),
                    headers={**admin, "Idempotency-Key": f"seed-vendor-{n}"},
                )
            )
        for i in range(payments):
            _, path, body = request_payment(world, -1 - i)
            answer = _ok(
                client.post(path, json=body, headers={**pptk, "Idempotency-Key": f"seed-spp-{i}"})
            )
            world.disbursements.append(answer["id"])
            world.position = max(world.position, int(answer["position"]))


def _ok(response: httpx.Response) -> dict[str, Any]:
    if response.status_code >= 300:
        raise SystemExit(f"seeding failed: {response.status_code} {response.text}")
    body: dict[str, Any] = response.json()
    return body


# -- the load ----------------------------------------------------------------------------------
class Connection:
    """One keep-alive HTTP/1.1 connection, written and parsed by hand: at these rates a general
    client (httpx) costs more CPU than the server's route, on the same two cores."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def request(
        self, method: str, path: str, headers: bytes, body: bytes | None
    ) -> tuple[int, bytes]:
        """The status and the body."""
        payload = body or b""
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(payload)}\r\n"
        ).encode()
        if body is not None:
            head += b"Content-Type: application/json\r\n"
        self.writer.write(head + headers + b"\r\n" + payload)
        raw = await self.reader.readuntil(b"\r\n\r\n")
        lines = raw.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


async def drive(
    port: int,
    world: World,
    rate: float,
    duration: float,
    warmup: float,
    max_requests: int,
    connections: int,
    only: list[str] | None = None,
    mix: dict[str, float] | None = None,
) -> tuple[list[Sample], float]:
    rng = random.Random(2026)
    routes = [r for r in ROUTES if only is None or r.name in only]
    weights = [1.0 if only is not None else (mix or {}).get(r.name, r.weight) for r in routes]
    auth = {r.name: f"Authorization: Bearer {world.tokens[r.role]}\r\n".encode() for r in ROUTES}
    samples: list[Sample] = []
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(connections):
        idle.put_nowait(await Connection.open(port))

    async def one(route: Route, i: int, scheduled: float, measured: bool) -> None:
        method, path, body = route.build(world, i)
        headers = auth[route.name]
        if method == "POST":
            headers += f"Idempotency-Key: bench-{world.run}-{i}\r\n".encode()
        data = json.dumps(body).encode() if body is not None else None
        connection = await idle.get()  # waiting for a free connection counts in the latency
        sent = time.perf_counter()
        try:
            status, answer = await connection.request(method, path, headers, data)
            idle.put_nowait(connection)
            if route.kind == "write" and 200 <= status < 300:
                saw_write(world, answer)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            status = 0
            connection.close()
            idle.put_nowait(await Connection.open(port))
        done = time.perf_counter()
        samples.append(Sample(route.name, status, done - scheduled, done - sent, measured))

    tasks: list[asyncio.Task[None]] = []
    start = time.perf_counter()
    total = min(max_requests, int((warmup + duration) * rate))
    for i in range(total):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        route = rng.choices(routes, weights)[0]
        measured = scheduled - start >= warmup
        tasks.append(asyncio.create_task(one(route, i, scheduled, measured)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start - warmup
    while not idle.empty():
        idle.get_nowait().close()
    return samples, elapsed


def run_loop(work: Coroutine[Any, Any, T]) -> T:
    """Run the load generator on uvloop when it is installed (it costs less CPU per request)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(work)
    return uvloop.run(work)


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(samples: list[Sample], elapsed: float) -> list[dict[str, Any]]:
    measured = [s for s in samples if s.measured]
    rows = []
    groups: dict[str, list[Sample]] = {"all": measured}
    for route in ROUTES:
        groups[route.name] = [s for s in measured if s.route == route.name]
    for name, group in groups.items():
        if not group:
            continue
        latencies = [s.latency * 1000 for s in group]
        service = [s.service * 1000 for s in group]
        rows.append(
            {
                "route": name,
                "requests": len(group),
                "errors": sum(1 for s in group if not 200 <= s.status < 300),
                "per_s": len(group) / elapsed,
                "p50_ms": quantile(latencies, 0.50),
                "p90_ms": quantile(latencies, 0.90),
                "p99_ms": quantile(latencies, 0.99),
                "max_ms": max(latencies),
                "service_p50_ms": quantile(service, 0.50),
                "service_p99_ms": quantile(service, 0.99),
            }
        )
    return rows


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its descendants (the uvicorn workers), from /proc."""
    total = 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / ticks
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except (OSError, IndexError, ValueError):
        return total
    return total + sum(cpu_seconds(int(child)) for child in children)


def measure_reference(
    args: argparse.Namespace, env: dict[str, str], world: World
) -> dict[str, float]:
    """CPU per request and p99 of ``hello`` under the same uvicorn settings, workers, rate and
    durations as the run just made (the machine's speed and load of the moment, for a ratio)."""
    port = free_port()
    server = start_server(env, port, args.workers, reference=True)
    try:
        before = cpu_seconds(server.pid)
        samples, elapsed = run_loop(
            drive(
                port,
                world,
                args.rate,
                args.duration,
                args.warmup,
                args.max_requests,
                args.connections,
                ["hello"],
            )
        )
        used = cpu_seconds(server.pid) - before
    finally:
        server.terminate()
        server.wait(timeout=30)
    rows = report(samples, elapsed)
    return {"cpu_ms": used / len(samples) * 1000, "p99_ms": rows[0]["p99_ms"]}


def workers(pid: int) -> list[int]:
    """The uvicorn worker processes of the server ``pid`` (its children started by
    multiprocessing's spawn; not its resource tracker)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    found = []
    for child in children:
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in command:
            found.append(int(child))
    return found


def py_spy_command(pid: int, seconds: float, out: Path) -> list[str]:
    """py-spy's record of one process for ``seconds``: GIL-holding samples, raw folded stacks."""
    spy = Path(sys.executable).with_name("py-spy")
    return [
        str(spy) if spy.exists() else "py-spy",
        "record",
        "--pid",
        str(pid),
        "--gil",
        "--nonblocking",
        "--rate",
        "250",
        "--duration",
        str(max(1, round(seconds))),
        "--format",
        "raw",
        "-o",
        str(out),
    ]


class Profiles:
    """py-spy on every worker of the server, started after the warm-up (``--profile``)."""

    def __init__(self, server: int, folder: Path, warmup: float, duration: float) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.spies: list[subprocess.Popen[bytes]] = []

        def start() -> None:
            for pid in workers(server):
                command = py_spy_command(pid, duration, folder / f"worker-{pid}.txt")
                self.spies.append(subprocess.Popen(command, stdout=subprocess.DEVNULL))

        self.timer = threading.Timer(warmup, start)
        self.timer.start()

    def wait(self) -> None:
        self.timer.join()
        for spy in self.spies:
            spy.wait(timeout=120)


def machine() -> dict[str, Any]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "load_average": os.getloadavg(),
    }


def summarise(
    args: argparse.Namespace,
    env: dict[str, str],
    world: World,
    before: dict[str, Any],
    measured: tuple[list[Sample], float, float, float],
) -> None:
    """Print the run (and measure the reference after it), whether each target is met."""
    samples, elapsed, server_cpu, own_cpu = measured
    rows = report(samples, elapsed)
    print(f"machine: {before}")
    print(
        f"target {args.rate:.0f} req/s for {args.duration:.0f} s (+{args.warmup:.0f} s warm-up), "
        f"{args.workers} workers, PostgreSQL, loopback, mix {args.mix}, "
        f"LRA freshness {args.lra_freshness or 'default (recent)'}"
    )
    print(
        f"{'route':<14}{'requests':>9}{'errors':>7}{'req/s':>8}{'p50 ms':>8}{'p90 ms':>8}"
        f"{'p99 ms':>8}{'max ms':>8}{'svc p50':>8}{'svc p99':>8}"
    )
    for r in rows:
        print(
            f"{r['route']:<14}{r['requests']:>9}{r['errors']:>7}{r['per_s']:>8.0f}"
            f"{r['p50_ms']:>8.1f}{r['p90_ms']:>8.1f}{r['p99_ms']:>8.1f}{r['max_ms']:>8.0f}"
            f"{r['service_p50_ms']:>8.1f}{r['service_p99_ms']:>8.1f}"
        )
    sent = len(samples)
    cpu_ms = server_cpu / sent * 1000
    print(
        f"CPU per request (warm-up included): server workers {cpu_ms:.2f} ms, "
        f"load generator {own_cpu / sent * 1000:.2f} ms"
    )
    reference = measure_reference(args, env, world) if args.reference else None
    if reference is not None:
        print(
            f"reference (bare FastAPI endpoint, same uvicorn settings, same rate, just after): "
            f"{reference['cpu_ms']:.3f} ms CPU per request, p99 {reference['p99_ms']:.1f} ms; "
            f"kasda's mix costs {cpu_ms / reference['cpu_ms']:.1f}x the reference"
        )
    p99 = rows[0]["p99_ms"] if rows else float("nan")
    print(
        f"target CPU per request <= {TARGET_CPU_MS} ms: {'met' if cpu_ms <= TARGET_CPU_MS else 'NOT met'}"
        f" ({cpu_ms:.2f} ms); target p99 < {TARGET_P99_MS:.0f} ms: "
        f"{'met' if p99 < TARGET_P99_MS else 'NOT met'} ({p99:.1f} ms)"
        + ("" if args.lra_freshness == "after" else "; issue 17 asks for --lra-freshness after")
        + f"; load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                {
                    "machine": before,
                    "args": vars(args) | {"json": None},
                    "rows": rows,
                    "server_cpu_ms_per_request": cpu_ms,
                    "reference": reference,
                },
                indent=2,
            )
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=500.0, help="requests per second")
    parser.add_argument("--duration", type=float, default=20.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds not counted")
    parser.add_argument("--max-requests", type=int, default=100_000, help="stop after this many")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--seed-payments", type=int, default=300, help="payments to read")
    parser.add_argument(
        "--only", action="append", help="send only this route (repeatable), e.g. --only request"
    )
    parser.add_argument(
        "--mix",
        choices=["lra", "old"],
        default="lra",
        help="lra: 50%% payment, 20%% history, 10%% LRA, 20%% write; old: 50/30/0/20 (no LRA)",
    )
    parser.add_argument(
        "--lra-freshness",
        choices=["latest", "recent", "after"],
        default=None,
        help="the LRA route's freshness: absent, the API's default (recent); latest: everything "
        "recorded before each read; after: after=<the position of the most recent write answer "
        "seen> (read-your-writes)",
    )
    parser.add_argument("--connections", type=int, default=64, help="keep-alive connections")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument(
        "--profile",
        type=Path,
        help="record each uvicorn worker with py-spy during the measured seconds, into this "
        "folder (worker-<pid>.txt, raw folded stacks of GIL-holding samples)",
    )
    parser.add_argument(
        "--no-reference",
        dest="reference",
        action="store_false",
        help="skip the same-run reference (a bare FastAPI endpoint under the same uvicorn)",
    )
    args = parser.parse_args(argv)

    base_url = Settings.from_env().test_postgres_url
    schema = f"bench_api_{uuid.uuid4().hex[:10]}"
    separator = "&" if "?" in base_url else "?"
    secret = secrets.token_urlsafe(48)
    env = {
        **os.environ,
        "KASDA_DATABASE_URL": f"{base_url}{separator}schema={schema}",
        "KASDA_JWT_SECRET": secret,
    }
    config = ApiSettings(database_url=env["KASDA_DATABASE_URL"], jwt_secret=secret)
    # testkit's tokens carry the claims each role needs (the SKPD of an SKPD-bound role).
    tokens = {role: token(config, role) for role in Role}
    world = World(tokens, lra_freshness=args.lra_freshness)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    before = machine()
    server = start_server(env, port, args.workers)
    try:
        started = time.perf_counter()
        seed(base, world, args.seed_payments)
        print(f"seeded in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        server_cpu = cpu_seconds(server.pid)
        own_cpu = time.process_time()
        profiles = (
            None
            if args.profile is None
            else Profiles(server.pid, args.profile, args.warmup, args.duration)
        )
        samples, elapsed = run_loop(
            drive(
                port,
                world,
                args.rate,
                args.duration,
                args.warmup,
                args.max_requests,
                args.connections,
                args.only,
                OLD_MIX if args.mix == "old" else None,
            )
        )
        server_cpu = cpu_seconds(server.pid) - server_cpu
        own_cpu = time.process_time() - own_cpu
        if profiles is not None:
            profiles.wait()
    finally:
        server.terminate()
        server.wait(timeout=30)
        with psycopg.connect(base_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
    summarise(args, env, world, before, (samples, elapsed, server_cpu, own_cpu))
    return 0


if __name__ == "__main__":
    sys.exit(main())
