"""``benchmarks/bench_api.py --profile``: py-spy on each uvicorn worker, found among the server's
children (the processes multiprocessing spawned; not its resource tracker)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from benchmarks.bench_api import py_spy_command, workers

# The child says when it runs: ``Process.start`` returns once the child is forked, before it has
# exec'd the interpreter, and until then its command line is still the parent's.
SPAWNS_ONE = """
import multiprocessing, sys, time
def run(ready):
    ready.set()
    time.sleep(30)
if __name__ == "__main__":
    spawn = multiprocessing.get_context("spawn")
    ready = spawn.Event()
    child = spawn.Process(target=run, args=(ready,))
    child.start()
    assert ready.wait(30)
    print(child.pid, flush=True)
    sys.stdin.read()
    child.terminate()
"""


def test_the_workers_are_the_spawned_children(tmp_path: Path) -> None:
    script = tmp_path / "server.py"
    script.write_text(SPAWNS_ONE)
    server = subprocess.Popen(
        [sys.executable, str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert server.stdout is not None
        child = int(server.stdout.readline())
        assert workers(server.pid) == [child]
        assert workers(child) == []  # a worker has no workers
    finally:
        server.communicate(b"")
    assert workers(server.pid) == []  # gone


def test_py_spy_records_gil_samples_as_folded_stacks(tmp_path: Path) -> None:
    command = py_spy_command(1234, 14.6, tmp_path / "w.txt")
    assert Path(command[0]).name == "py-spy"
    assert command[1:] == [
        "record", "--pid", "1234", "--gil", "--nonblocking", "--rate", "250",
        "--duration", "15", "--format", "raw", "-o", str(tmp_path / "w.txt"),
    ]  # fmt: skip
