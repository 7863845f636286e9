"""The LRA in Chromium: the auditor opens the dashboard, drills down from an SKPD to a rekening,
changes the day the report is as of, and the numbers change (the payment was not yet realised)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from ledger.application import Ledger
from ledger.roles import Role
from testkit.api import build_world, post
from testkit.browser import LiveServer, live_server
from testkit.web import web_settings
from testkit.world import MEDIA, WIB, YEAR
from tests.browser.conftest import sign_in_as
from tests.conftest import make_url

SP2D_DAY = date(YEAR, 2, 10)


class Clock:
    """The ledger's clock: one second per reading, from 09:00 WIB of a day the test chooses."""

    def __init__(self) -> None:
        self.now = datetime(YEAR, 1, 2, 9, 0, tzinfo=WIB)

    def to(self, day: date) -> None:
        self.now = datetime(day.year, day.month, day.day, 9, 0, tzinfo=WIB)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture(params=["sqlite", "postgres"])
def year_server(
    request: pytest.FixtureRequest, tmp_path: Path, browser: Browser
) -> Iterator[LiveServer]:
    """A live kasda whose APBD was adopted on 2 January and whose SPP-1 got its SP2D on 10
    February (the ledger's clock is the test's). ``browser`` first: without Chromium, no server."""
    url = make_url(str(request.param), tmp_path, request)
    config = web_settings(url)
    clock = Clock()
    ledger = Ledger(url, clock=clock)
    try:
        with live_server(config, ledger) as running, httpx.Client(base_url=running.url) as api:
            world = build_world(api, config)
            clock.to(SP2D_DAY)
            for role, step, body in (
                (Role.PPK, "verify", None),
                (Role.PA_KPA, "approve", {"spm_number": "SPM-1"}),
                (Role.KUASA_BUD, "authorise", {"sp2d_number": "SP2D-1"}),
            ):
                path = f"/disbursements/{world['disbursement_id']}/{step}"
                assert post(api, config, role, path, body).status_code == 200
            yield running
    finally:
        ledger.close()


def test_the_auditor_drills_down_and_looks_back_in_time(
    page: Page, year_server: LiveServer
) -> None:
    server = year_server
    sign_in_as(page, server, "Auditor / Inspektorat", "auditor.fajar")
    page.get_by_role("navigation", name="Menu utama").get_by_role("link", name="LRA").click()
    expect(page.get_by_role("heading", name="Laporan Realisasi Anggaran (LRA)")).to_be_visible()
    expect(page.get_by_role("img", name="Belanja per SKPD: anggaran dan realisasi")).to_be_visible()
    page.locator("#tabel-skpd").get_by_role("link", name="Dinas Pendidikan").click()
    for level in ("Program", "Kegiatan", "Sub kegiatan"):
        expect(page.get_by_role("heading", name=f"LRA per {level}")).to_be_visible()
        page.locator('#tabel-lra tr[data-side="belanja"] a').first.click()
    expect(page.get_by_role("heading", name="LRA per Rekening")).to_be_visible()
    realised = page.locator(f'#tabel-lra tr[data-kode="{MEDIA}"] td[data-kolom="realisasi"]')
    expect(realised).to_have_text("Rp 100.000.000")
    expect(page.get_by_role("navigation", name="Tingkat di atas")).to_contain_text("Program")
    # The day before the SP2D: the payment is committed, not realised.
    page.get_by_label("Per tanggal").fill((SP2D_DAY - timedelta(days=1)).isoformat())
    page.get_by_role("button", name="Tampilkan").click()
    expect(page.get_by_role("heading", name="LRA per Rekening")).to_be_visible()
    expect(page.locator(".lead")).to_contain_text("Per tanggal 9 Feb 2026")
    expect(realised).to_have_text("Rp 0")
    page.get_by_label("Per tanggal").fill(SP2D_DAY.isoformat())
    page.get_by_role("button", name="Tampilkan").click()
    expect(realised).to_have_text("Rp 100.000.000")
