"""The files for other systems in Chromium, over a small demo year: BPKAD opens the LRA and takes
the SIPD file, then ``Pajak (e-Bupot)``, chooses a month and takes the e-Bupot workbook; each
download is the file the API gives for the same period. Screenshots go to
``KASDA_SCREENSHOTS_DIR`` when it is set."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import httpx
from openpyxl import load_workbook
from playwright.sync_api import Page, expect

from exports import ebupot, sipd
from kasda.demo.pemda import PEMDA, YEAR
from ledger.roles import Role
from testkit.api import bearer
from testkit.browser import LiveServer
from tests.browser.demo_site import sign_in

SHOTS = os.environ.get("KASDA_SCREENSHOTS_DIR")


def shot(page: Page, name: str) -> None:
    if SHOTS:
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def api_file(server: LiveServer, path: str, params: dict[str, str | int]) -> bytes:
    headers = bearer(server.config, Role.AUDITOR, pemda=PEMDA)
    answer = httpx.get(f"{server.url}/pemda/{PEMDA}/exports/{path}", params=params,
                       headers=headers, timeout=30)  # fmt: skip
    assert answer.status_code == 200, answer.text
    return answer.content


def test_bpkad_takes_the_sipd_and_ebupot_files(page: Page, demo_server: LiveServer) -> None:
    sign_in(page, demo_server, Role.BPKAD_ADMIN)
    page.goto(f"{demo_server.url}/lra?tahun={YEAR}")
    shot(page, "bpkad_admin-lra-sipd")
    with page.expect_download() as started:
        page.locator("#unduh-sipd-csv").click()
    made = Path(started.value.path()).read_bytes()
    rows = list(csv.DictReader(io.StringIO(made.decode())))
    assert tuple(rows[0]) == sipd.HEADERS and len(rows) > 10
    assert made == api_file(demo_server, "sipd-lra.csv", {"year": YEAR, "freshness": "latest"})

    page.get_by_role("link", name="Pajak (e-Bupot)").first.click()
    page.get_by_label("Tahun pajak").select_option(str(YEAR))
    page.get_by_label("Masa pajak").select_option("3")
    page.get_by_role("button", name="Tampilkan").click()
    expect(page.locator("#tabel-pajak-vendor tbody tr").first).to_be_visible()
    assert page.locator("#tabel-pajak-vendor tbody tr[data-kode]").count() > 0
    shot(page, "bpkad_admin-pajak")
    with page.expect_download() as started:
        page.locator("#unduh-ebupot-xlsx").click()
    book = load_workbook(io.BytesIO(Path(started.value.path()).read_bytes()))
    assert started.value.suggested_filename == f"ebupot-{PEMDA}-{YEAR}-03.xlsx"
    assert book.sheetnames == ["Rekap", "42152223", "Dasar Pemotongan", "Bukan e-Bupot"]
    first = next(book["42152223"].iter_rows(values_only=True))
    assert tuple(first) == ebupot.BUKTI_HEADERS
