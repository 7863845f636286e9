"""Demo years built once per test session and copied, for the tests that look at one.

Building a small demo year costs seconds of CPU (``kasda.demo.build_demo``: a year of commands,
paid through the gateway simulator over HTTP), and several test files look at the same small year.
``demo_copy`` builds each (seed, lifecycles, files or not) once per session, shared by the xdist
workers of the session (a file lock: the first worker builds, the others wait for it), into a
template folder that no test touches, and gives each caller a copy of its own: the SQLite file (and
the daily files), so that a test that writes (a projector's read models, a tampered row) changes
nothing another test sees. The copy is the year ``build_demo`` built, byte for byte; the totals and
report are the ones it returned (the report's ``files`` name the template's files)."""

from __future__ import annotations

import fcntl
import os
import pickle
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from kasda.demo import BuildReport, Totals, build_demo

DB = "kasda.db"
FILES = "files"


@dataclass(frozen=True)
class DemoCopy:
    """A copy of a demo year: ``home`` holds ``kasda.db`` (and ``files/`` if built with them)."""

    home: Path
    totals: Totals
    report: BuildReport

    @property
    def url(self) -> str:
        return f"sqlite:///{self.home / DB}"

    @property
    def files(self) -> Path:
        return self.home / FILES


def session_folder(factory: pytest.TempPathFactory) -> Path:
    """A folder of this test session that every xdist worker of it sees (the workers' base
    temporary folders are siblings in it); without xdist, the session's own base folder."""
    base = factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def shared_template(
    factory: pytest.TempPathFactory, name: str, build: Callable[[Path], object]
) -> tuple[Path, object]:
    """``build(folder)`` run once per session under the name ``name`` (by whichever worker asks
    first; the others wait on a file lock), and what it returned (pickled beside the folder).
    Nobody may write in the folder: copy it."""
    root = session_folder(factory) / "kasda-templates"
    root.mkdir(exist_ok=True)
    folder, result = root / name, root / f"{name}.pickle"
    with (root / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not result.exists():
                shutil.rmtree(folder, ignore_errors=True)  # a build that failed half-way
                folder.mkdir()
                value = build(folder)
                partial = result.with_suffix(".partial")
                partial.write_bytes(pickle.dumps(value))
                partial.rename(result)
            return folder, pickle.loads(result.read_bytes())
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def copy_folder(template: Path, to: Path) -> Path:
    """A copy of ``template`` (the SQLite file with its WAL, if any, and the daily files) at ``to``."""
    shutil.copytree(template, to, dirs_exist_ok=True)
    return to


def demo_copy(
    factory: pytest.TempPathFactory, seed: int, lifecycles: int, *, files: bool = False
) -> DemoCopy:
    """A copy of its own of the demo year ``build_demo`` builds with ``seed`` and ``lifecycles``
    (with its daily files in ``files/`` when ``files``), built once per session."""

    def build(folder: Path) -> tuple[Totals, BuildReport]:
        files_dir = folder / FILES if files else None
        return build_demo(f"sqlite:///{folder / DB}", seed, lifecycles, files_dir=files_dir)

    name = f"demo-{seed}-{lifecycles}{'-files' if files else ''}"
    template, built = shared_template(factory, name, build)
    assert isinstance(built, tuple)
    totals, report = built
    assert isinstance(totals, Totals) and isinstance(report, BuildReport)
    home = copy_folder(template, factory.mktemp(name))
    return DemoCopy(home, totals, report)
