"""Which tests share an xdist worker under ``make test`` (``pytest -n 2 --dist loadgroup``).

The browser tests (tests/browser/) share one Chromium and one served demo year per worker: on one
worker, Chromium is launched once and the year served once. A module whose fixture is
module-scoped and costly builds it once per worker that runs any of its tests: on one worker, once.
Every other test is a group of its own, sent to whichever worker is free. The groups are scheduled
largest first (xdist's loadscope order), so the long browser group starts at once and the single
tests fill in around it.

xdist's own ``loadgroup`` puts tests with the same ``xdist_group`` mark on one worker by adding the
group to the test's node id, which pytest 9 no longer lets a plugin change: the marks would be
ignored. This scheduler groups by file instead (``tests/conftest.py`` installs it)."""

from __future__ import annotations

from xdist.scheduler import LoadScopeScheduling  # type: ignore[import-untyped]

BROWSER = "tests/browser/"
ONE_WORKER_MODULES = {
    "tests/test_api_tenancy.py",
    "tests/test_demo_advance.py",
    "tests/test_demo_reconcile.py",
    "tests/test_demo_redflags.py",
    "tests/test_demo_serve.py",
    "tests/test_lra_cli.py",
    "tests/test_opendata_ocds.py",
    "tests/test_reconcile_cli.py",
    "tests/test_reconcile_events.py",
    "tests/test_reconcile_readers.py",
}


def group_of(nodeid: str) -> str:
    """The group of a test by its node id: "browser", its file, or the test itself."""
    path = nodeid.split("::", 1)[0]
    if path.startswith(BROWSER):
        return "browser"
    if path in ONE_WORKER_MODULES:
        return path
    return nodeid


class GroupScheduling(LoadScopeScheduling):  # type: ignore[misc]
    """xdist's scheduling by scope, the scope being ``group_of`` the test."""

    def _split_scope(self, nodeid: str) -> str:
        return group_of(nodeid)
