"""How fast each page of the web app answers, on the demo year, for each role that can open it.

The script builds the demo year with the demo command (``kasda demo``, into a temporary folder, or
into ``--store DIR``, where a year built before with the same seed is found and kept), starts
``kasda serve`` on 127.0.0.1 with its default workers (one) and demo mode on, signs in as each role's
demo user on the demo sign-in page, and requests every page of ``web.pages.pages_for(role)``
``--requests`` times on a keep-alive connection per role, after ``--warmup`` requests that are not
counted: one request at a time, round robin over all the rows, so that a burst of load on the
machine weighs on every row alike. In the same run it times reference rows: ``GET /healthz`` and the API's JSON
reads of the same data (the queue sizes Beranda shows, with the API's default freshness and with
``freshness=latest``, which is how pages read; the LRA per SKPD) with bearer tokens.

Times are the client's round trip on the loopback interface (request sent to response read), which
include HTTP parsing on both sides; when the server sends a ``Server-Timing`` header with ``dur=``,
that server time is shown too. The client shares the machine's CPUs with the server.

    .venv/bin/python benchmarks/bench_web.py                    # the full demo year, 50 requests
    .venv/bin/python benchmarks/bench_web.py --store /tmp/demo --requests 100
    .venv/bin/python benchmarks/bench_web.py --lifecycles 200   # a smaller year, quicker
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script: testkit

from kasda.demo.pemda import DEFAULT_LIFECYCLES, PEMDA, YEAR
from kasda.demo.users import USERS
from ledger.roles import Role
from testkit.web import csrf_of
from web.pages import pages_for

ROLES = tuple(role for role in Role if role is not Role.GATEWAY)
SERVER_TIMING = re.compile(r"dur=([0-9.]+)")


@dataclass
class Row:
    who: str
    path: str
    kind: str  # "page" or "reference"
    times: list[float] = field(default_factory=list)  # round trips, ms
    server: list[float] = field(default_factory=list)  # Server-Timing dur, ms, when sent
    statuses: set[int] = field(default_factory=set)
    size: int = 0

    def stats(self, values: list[float]) -> tuple[float, float, float]:
        ordered = sorted(values)
        p95 = ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]
        return ordered[len(ordered) // 2], p95, ordered[-1]


# -- the store and the server ------------------------------------------------------------------
def kasda(*args: str) -> list[str]:
    return [sys.executable, "-c", "import sys; from kasda.cli import main; sys.exit(main())", *args]


def build_year(env: dict[str, str], lifecycles: int) -> float:
    started = time.perf_counter()
    command = kasda("demo", "--seed", str(YEAR), "--lifecycles", str(lifecycles))
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    """``kasda serve`` with its default workers, until it answers /healthz."""
    process = subprocess.Popen(
        kasda("serve", "--port", str(port), "--log-level", "warning"), env=env
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"kasda serve exited with {process.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.2)
    process.terminate()
    raise SystemExit("kasda serve did not answer within 120 s")


def token(env: dict[str, str], role: Role) -> str:
    printed = subprocess.run(
        kasda("token", "--role", role.value), env=env, check=True, capture_output=True, text=True
    )
    return printed.stdout.strip()


# -- the clients ---------------------------------------------------------------------------------
def signed_in(base: str, role: Role) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=30)
    shown = client.get("/masuk")
    answer = client.post(
        "/masuk/demo",
        data={"csrf": csrf_of(shown.text), "user": f"{role.value}:{USERS[role]}"},
        follow_redirects=False,
    )
    if answer.status_code != 303:
        raise SystemExit(f"signing in as {role.value} answered {answer.status_code}")
    return client


def measure(client: httpx.Client, row: Row, counted: bool) -> None:
    started = time.perf_counter()
    answer = client.get(row.path)
    elapsed = (time.perf_counter() - started) * 1000
    if not counted:
        return
    row.times.append(elapsed)
    row.statuses.add(answer.status_code)
    row.size = len(answer.content)
    timing = SERVER_TIMING.search(answer.headers.get("server-timing", ""))
    if timing:
        row.server.append(float(timing.group(1)))


def clients(base: str, env: dict[str, str]) -> list[tuple[httpx.Client, Row]]:
    """Every row with the client that requests it: each role signed in on the demo sign-in page,
    then the references (no session; the API's with a bearer token)."""
    rows: list[tuple[httpx.Client, Row]] = []
    payment = one_payment(base, env)
    for role in ROLES:
        client = signed_in(base, role)
        rows += [(client, Row(role.value, path, "page")) for path in pages_for(role)]
        if role in (Role.KUASA_BUD, Role.AUDITOR):  # a payment's page: one read of everything
            rows.append((client, Row(role.value, f"/pembayaran/{payment}", "page")))
    rows.append((httpx.Client(base_url=base, timeout=30), Row("-", "/healthz", "reference")))
    for role, path in (
        (Role.PPK, f"/pemda/{PEMDA}/queues"),
        (Role.PPK, f"/pemda/{PEMDA}/queues?freshness=latest"),  # as pages read: up to the head
        (Role.AUDITOR, f"/pemda/{PEMDA}/lra?year={YEAR}&level=skpd"),
    ):
        headers = {"Authorization": f"Bearer {token(env, role)}"}
        client = httpx.Client(base_url=base, timeout=30, headers=headers)
        rows.append((client, Row(f"{role.value} (API)", path, "reference")))
    return rows


def one_payment(base: str, env: dict[str, str]) -> str:
    """A settled payment of the demo year (the payment page's row)."""
    headers = {"Authorization": f"Bearer {token(env, Role.AUDITOR)}"}
    with httpx.Client(base_url=base, timeout=30, headers=headers) as api:
        found = api.get(f"/pemda/{PEMDA}/disbursements", params={"status": "settled", "limit": 1})
    found.raise_for_status()
    return str(found.json()["items"][0]["id"])


def run(base: str, env: dict[str, str], requests: int, warmup: int) -> list[Row]:
    """Round robin over the rows, one request at a time, so that the machine's load at any moment
    weighs on every row alike."""
    rows = clients(base, env)
    try:
        for i in range(warmup + requests):
            for client, row in rows:
                measure(client, row, counted=i >= warmup)
    finally:
        for client in {id(c): c for c, _ in rows}.values():
            client.close()
    return [row for _, row in rows]


# -- the report ----------------------------------------------------------------------------------
def table(rows: list[Row]) -> list[str]:
    lines = [
        "| who | path | kind | status | bytes | p50 ms | p95 ms | max ms | server p50/p95 ms |",
        "|---|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        p50, p95, top = row.stats(row.times)
        server = "-"
        if row.server:
            s50, s95, _ = row.stats(row.server)
            server = f"{s50:.1f} / {s95:.1f}"
        status = ",".join(str(s) for s in sorted(row.statuses))
        lines.append(
            f"| {row.who} | `{row.path}` | {row.kind} | {status} | {row.size:,} | "
            f"{p50:.1f} | {p95:.1f} | {top:.1f} | {server} |"
        )
    return lines


def machine() -> list[str]:
    cpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return [
        f"nproc: {os.cpu_count()}; load average {load}; Python {platform.python_version()}; "
        f"{platform.platform()}",
        *cpu.splitlines()[:10],
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=50, help="per page (default 50)")
    parser.add_argument("--warmup", type=int, default=3, help="per page, not counted (default 3)")
    parser.add_argument("--lifecycles", type=int, default=DEFAULT_LIFECYCLES)
    parser.add_argument("--store", type=Path, help="folder of the demo store (default: temporary)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-web-") as scratch:
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
        port = free_port()
        server = start_server(env, port)
        try:
            rows = run(f"http://127.0.0.1:{port}", env, args.requests, args.warmup)
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(f"\n{args.requests} requests per row after {args.warmup} warm-up, client round trip:\n")
    print("\n".join(table(rows)))
    print("\n" + "\n".join(machine()))
    return 0 if all(row.statuses == {200} for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
