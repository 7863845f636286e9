"""Screenshots of the main pages, for the README: each page of ``web.pages`` once (as the role that
shows it best) and the sign-in page, in Chromium over the demo year, 1280 x 800, PNG, each under
200 KB. Every run takes them (into a temporary folder, checked); ``KASDA_SCREENSHOTS=1`` also
writes them to docs/screenshots/ (and removes the ones of pages that are gone), so that a normal run
never changes the tree:

    KASDA_SCREENSHOTS=1 .venv/bin/pytest tests/browser/test_screenshots.py
"""

from __future__ import annotations

import os
import re
import shutil
import struct
from pathlib import Path

from playwright.sync_api import Browser

from ledger.roles import Role
from testkit.browser import LiveServer
from tests.browser.demo_site import sign_in
from web.pages import pages_for

ROOT = Path(__file__).resolve().parents[2]
FOLDER = ROOT / "docs" / "screenshots"
SIZE = {"width": 1280, "height": 800}
MAX_BYTES = 200_000
# Who shows a page best when several roles can open it: the officials who decide come first.
PREFERENCE = (
    Role.PPK,
    Role.PPTK,
    Role.PA_KPA,
    Role.KUASA_BUD,
    Role.BPKAD_ADMIN,
    Role.BENDAHARA,
    Role.AUDITOR,
    Role.VENDOR,
)


def main_pages() -> list[tuple[Role | None, str]]:
    """The sign-in page, then every registered page once, as the first role of ``PREFERENCE``
    that can open it."""
    chosen: dict[str, Role] = {}
    for role in PREFERENCE:
        for path in pages_for(role):
            chosen.setdefault(path, role)
    return [(None, "/masuk"), *((role, path) for path, role in chosen.items())]


def file_name(role: Role | None, path: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "root"
    return f"{slug}.png" if role is None else f"{role.value}-{slug}.png"


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def take(browser: Browser, server: LiveServer, folder: Path) -> list[Path]:
    taken = []
    for role, path in main_pages():
        context = browser.new_context(
            viewport=SIZE,  # type: ignore[arg-type]
            locale="id-ID",
            timezone_id="Asia/Jakarta",
        )
        try:
            page = context.new_page()
            if role is not None:
                sign_in(page, server, role)
            page.goto(f"{server.url}{path}")
            page.wait_for_load_state("networkidle")
            target = folder / file_name(role, path)
            page.screenshot(path=target, type="png", animations="disabled", caret="hide")
            taken.append(target)
        finally:
            context.close()
    return taken


def test_screenshots_of_the_main_pages(
    browser: Browser, demo_server: LiveServer, tmp_path: Path
) -> None:
    taken = take(browser, demo_server, tmp_path)
    assert {"masuk.png", "ppk-beranda.png"} <= {p.name for p in taken}
    for shot in taken:
        data = shot.read_bytes()
        assert png_size(data) == (SIZE["width"], SIZE["height"]), shot.name
        assert 5_000 < len(data) < MAX_BYTES, f"{shot.name}: {len(data)} bytes"
    if os.environ.get("KASDA_SCREENSHOTS") == "1":
        FOLDER.mkdir(parents=True, exist_ok=True)
        for old in FOLDER.glob("*.png"):
            if old.name not in {p.name for p in taken}:
                old.unlink()
        for shot in taken:
            shutil.copy(shot, FOLDER / shot.name)


def test_the_readme_shows_every_screenshot() -> None:
    """The README's screenshots section shows exactly the screenshots in docs/screenshots/."""
    readme = (ROOT / "README.md").read_text()
    shown = set(re.findall(r"\(docs/screenshots/([^)]+\.png)\)", readme))
    assert shown, "the README shows no screenshot"
    assert shown == {p.name for p in FOLDER.glob("*.png")}
