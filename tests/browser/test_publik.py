"""The public portal in Chromium, signed out, over the demo year (tests/browser/demo_site.py): a
resident opens /publik from the sign-in page, reads the figures beside the charts, goes to the
payments, searches a vendor, filters by SKPD and month, pages through, opens one payment, and finds
how to verify the figures. Then every public page (each page of the list, each payment) is read and
none holds a demo vendor's account number, account holder or NPWP, nor a person's name.

With ``KASDA_SCREENSHOTS_DIR`` set, the pages are saved there as PNG (full page)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from kasda.demo.pemda import PEMDA
from ledger.application import Ledger
from projections.db import ReadDatabase
from testkit.browser import LiveServer

SHOTS = os.environ.get("KASDA_SCREENSHOTS_DIR")
VENDOR_COLUMNS = ("npwp", "name", "kind", "bank_code", "account_number", "account_holder")


def shot(page: Page, name: str) -> None:
    if SHOTS:
        page.screenshot(path=str(Path(SHOTS) / f"publik-{name}.png"), full_page=True)


def rows(page: Page) -> list[str]:
    return page.locator("#tabel-pembayaran tbody tr[data-id]").all_inner_texts()


def test_a_resident_reads_searches_filters_and_pages(page: Page, demo_server: LiveServer) -> None:
    base = demo_server.url
    page.goto(f"{base}/masuk")
    page.get_by_role("link", name="Portal publik").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("APBD dan realisasinya")
    expect(page.get_by_role("img", name="Belanja per SKPD: anggaran dan realisasi")).to_be_visible()
    months_chart = "Belanja per bulan: anggaran dan realisasi kumulatif"
    expect(page.get_by_role("img", name=months_chart)).to_be_visible()
    expect(page.locator("#posisi-data")).to_contain_text("Data per posisi log")
    expect(page.locator('[data-kolom="belanja_realisasi"]')).to_have_text(re.compile(r"^Rp \d"))
    shot(page, "ringkasan")

    page.get_by_role("link", name="Lihat dan cari pembayaran ke penyedia").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Pembayaran ke penyedia")
    everything = int(page.locator("[data-total]").get_attribute("data-total") or 0)
    assert everything > 50, "the demo year has more than a page of payments"
    assert len(rows(page)) == 50
    shot(page, "pembayaran")

    # Pages: the next 50, then back.
    first_page = rows(page)
    page.get_by_role("link", name="Halaman berikutnya").click()
    expect(page.get_by_role("navigation", name="Halaman hasil")).to_contain_text("51\N{EN DASH}")
    assert rows(page) and rows(page) != first_page
    page.get_by_role("link", name="Halaman sebelumnya").click()
    assert rows(page) == first_page

    # Search the vendor of the first row: every row found is that vendor's.
    vendor = page.locator(
        "#tabel-pembayaran tbody tr[data-id] td:nth-child(2) a"
    ).first.inner_text()
    page.get_by_label("Cari", exact=True).fill(vendor)
    page.get_by_role("button", name="Cari", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    found = rows(page)
    assert found and all(vendor in row for row in found)
    assert int(page.locator("[data-total]").get_attribute("data-total") or 0) < everything
    shot(page, "cari")

    # Filters: an SKPD and a month, on top of nothing else.
    page.get_by_role("link", name="Hapus saringan").click()
    skpd = page.get_by_label("SKPD").locator("option").nth(1)
    skpd_name = skpd.inner_text()
    page.get_by_label("SKPD").select_option(skpd.get_attribute("value") or "")
    page.get_by_role("button", name="Cari", exact=True).click()
    found = rows(page)
    assert found and all(skpd_name in row for row in found)
    month_cells = page.locator("#tabel-pembayaran tbody tr[data-id] td:first-child")
    month = month_cells.first.inner_text().split()[1]  # "14 Mar 2026 ..." -> "Mar"
    months = ("Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des")
    page.get_by_label("Bulan SP2D").select_option(str(months.index(month) + 1))
    page.get_by_role("button", name="Cari", exact=True).click()
    found = rows(page)
    assert found and all(skpd_name in row and f" {month} " in row for row in found)
    expect(page.get_by_label("SKPD")).to_have_value(skpd.get_attribute("value") or "")
    shot(page, "saring")

    # One payment, then the verification page.
    page.locator("#tabel-pembayaran tbody tr[data-id] td:nth-child(2) a").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Pembayaran ")
    expect(page.locator("#pembayaran")).to_contain_text("Rp ")
    shot(page, "satu")
    page.get_by_role("link", name="Cara memverifikasi angka ini").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Memverifikasi angka portal ini")
    expect(page.get_by_text("kasda verify --export DIR")).to_be_visible()
    shot(page, "verifikasi")


def demo_vendors(url: str) -> list[dict[str, str]]:
    ledger = Ledger(url)
    db = ReadDatabase(ledger)
    try:
        with db.transaction(write=False) as cursor:
            found = cursor.fetchall(
                f"SELECT {', '.join(VENDOR_COLUMNS)} FROM proj_vendor WHERE pemda = ?",
                (PEMDA,),
            )
        return [dict(r) for r in db.sealer.opened(VENDOR_COLUMNS, found)]
    finally:
        db.close()
        ledger.close()


def test_no_public_page_shows_a_vendors_private_data(demo_server: LiveServer) -> None:
    vendors = demo_vendors(demo_server.config.database_url)
    assert vendors
    secrets = {v["account_number"] for v in vendors} | {v["npwp"] for v in vendors}
    secrets |= {v["name"] for v in vendors if v["kind"] == "individual"}
    secrets |= {v["account_holder"] for v in vendors if v["kind"] == "individual"}
    pages: list[str] = []
    with httpx.Client(base_url=demo_server.url, timeout=30) as client:
        for path in ("/publik", "/publik/verifikasi", "/masuk"):
            pages.append(client.get(path).text)
        number = 1
        while True:
            listed = client.get("/publik/pembayaran", params={"halaman": number})
            assert listed.status_code == 200
            pages.append(listed.text)
            ids = re.findall(r'<tr data-id="([^"]+)"', listed.text)
            for payment in ids:
                one = client.get(f"/publik/pembayaran/{payment}")
                assert one.status_code == 200
                pages.append(one.text)
            if 'rel="next"' not in listed.text:
                break
            number += 1
    assert number > 1 and len(pages) > 60
    html = "\n".join(pages)
    for secret in secrets:
        assert secret not in html, f"{secret!r} is on a public page"
    # Nor anything that looks like an account, a NIK or an NPWP (ids and amounts in attributes
    # aside): the purposes typed by officials are masked.
    text = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "", html)
    text = re.sub(r'data-[a-z]+="[0-9]+"', "", text)
    assert not re.search(r"[0-9]{10,}", text)
    assert not re.search(r"[0-9]{2}\.[0-9]{3}\.[0-9]{3}\.[0-9]-[0-9]{3}\.[0-9]{3}", text)
