"""A live kasda over a small demo year, for the browser tests that look at every page with data in
it (accessibility, screenshots): ``demo_server`` builds the year once per session into a temporary
SQLite file and serves it with the demo's sign-in users; ``sign_in`` signs a browser tab in as a
role; ``every_page`` lists what each role can open (``web.pages``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page

from audit import service, thresholds
from audit.frames import secret_of
from kasda.demo.command import build_demo
from kasda.demo.pemda import PEMDA
from kasda.demo.users import USERS, VENDOR_NAME, VENDOR_NPWP
from ledger import commands as c
from ledger.application import Ledger
from ledger.roles import Actor, Role
from projections import queries as q
from projections.db import ReadDatabase
from projections.runner import Projector
from testkit.browser import LiveServer, live_server
from testkit.web import web_settings
from tests.demo_cache import copy_folder, shared_template
from web.pages import pages_for, public_pages
from web.render import ROLE_NAMES

SEED, LIFECYCLES = 2026, 60
# The roles that sign in (the gateway is a machine: it has no pages).
ROLES = tuple(role for role in Role if role is not Role.GATEWAY)
SIGNED_OUT = None


def every_page() -> list[tuple[Role | None, str]]:
    """The sign-in page and the public portal's pages signed out, then every page of
    ``web.pages`` for each role."""
    signed_out = [(SIGNED_OUT, path) for path in ("/masuk", *public_pages())]
    return signed_out + [(role, path) for role in ROLES for path in pages_for(role)]


def case_id(case: tuple[Role | None, str]) -> str:
    role, path = case
    return f"{role.value if role else 'signed-out'}:{path}"


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A small demo year, built once per test session (shared by its xdist workers) and served,
    a copy per worker, with the demo's sign-in users (tests/browser/conftest.py offers it to every
    browser test)."""
    template, _ = shared_template(tmp_path_factory, f"demo-site-{SEED}-{LIFECYCLES}", build_site)
    home = copy_folder(template, tmp_path_factory.mktemp("demo-site"))
    url = f"sqlite:///{home / 'kasda.db'}"
    with live_server(web_settings(url)) as server:
        yield server


def build_site(folder: Path) -> None:
    """The small demo year, its vendor user registered and a red-flag run recorded, in
    ``folder/kasda.db``: built once per session for every xdist worker (tests/demo_cache.py),
    each worker serving a copy of its own."""
    url = f"sqlite:///{folder / 'kasda.db'}"
    build_demo(url, SEED, LIFECYCLES)
    register_the_demo_vendor(url)
    record_red_flags(url)


def sign_in(page: Page, server: LiveServer, role: Role) -> None:
    """Sign the page's browser context in as the demo user of ``role``, by a click on the demo
    sign-in page."""
    page.goto(f"{server.url}/masuk")
    name = f"{ROLE_NAMES[role.value]} {USERS[role]}"
    page.get_by_role("button", name=name).first.click()
    page.wait_for_url(f"{server.url}/beranda")


def register_the_demo_vendor(url: str) -> None:
    """The demo's vendor user (``kasda.demo.users.VENDOR_NPWP``) is not one of the year's vendors
    (their NPWPs come from the seed): register it, so that its portal has a vendor to show."""
    ledger = Ledger(url)
    try:
        ledger.execute(
            c.RegisterVendor(
                idempotency_key="demo-site-vendor-user",
                actor=Actor(USERS[Role.BPKAD_ADMIN], Role.BPKAD_ADMIN),
                pemda=PEMDA,
                npwp=VENDOR_NPWP,
                name=VENDOR_NAME,
                kind="media",
                bank_code="110",
                account_number="0012345678901",
                account_holder=VENDOR_NAME,
            )
        )
    finally:
        ledger.close()


def record_red_flags(url: str) -> None:
    """A red-flag run over the year, as the inspectorate would start it, unless the demo recorded
    one: the red-flag pages then show flags, not only their empty state."""
    ledger = Ledger(url)
    try:
        projector = Projector(ledger)
        try:
            projector.catch_up()
        finally:
            projector.close()
        db = ReadDatabase(ledger)
        try:
            if q.red_flag_runs(db, PEMDA, limit=1).total == 0:
                auditor = Actor(USERS[Role.AUDITOR], Role.AUDITOR)
                limits = thresholds.defaults()
                service.record(ledger, db, auditor, PEMDA, limits, secret_of(db))
        finally:
            db.close()
    finally:
        ledger.close()
