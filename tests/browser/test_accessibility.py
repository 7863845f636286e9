"""Every page, for every role that can open it, in Chromium, over a demo year: no axe-core violation
of WCAG 2 A/AA (2.0, 2.1, 2.2), a label on every form field, the keyboard reaching every link,
button and field in document order with a visible focus outline, and no horizontal scroll of the
page on a 390 px wide phone nor at 200% zoom (a 1280 px window at 200% lays the page out in 640 CSS
px). The pages are ``web.pages.pages_for(role)`` (each module's ``PAGES``), so a new page
is checked as soon as it is registered. ``test_the_checks_catch_*`` show that each check fails on a
page that breaks it.

axe-core is vendored for the tests only (``testkit/axe/``, never in ``web/static``); it is injected
into the page with the page's content security policy bypassed, which the check needs and nothing
else does."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from ledger.roles import Role
from testkit.browser import LiveServer
from tests.browser.demo_site import (
    case_id,
    every_page,
    sign_in,
)

AXE = Path(__file__).resolve().parents[2] / "testkit" / "axe" / "axe.min.js"
AXE_SHA256 = "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"  # 4.14.1
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
ZOOMED = {"width": 640, "height": 400}  # 1280 x 800 at 200%
MAX_TAB_STOPS = 500
MAX_PARTS = 6  # Tab stops inside one date or time input

AXE_RUN = """async (tags) => {
  const result = await axe.run(document, {runOnly: {type: 'tag', values: tags},
                                          resultTypes: ['violations']});
  return result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ' -- ' + (n.failureSummary || '')),
  }));
}"""

UNLABELLED = """() => {
  const skip = new Set(['hidden', 'submit', 'button', 'reset', 'image']);
  const named = el => [...(el.labels || [])].some(l => l.textContent.trim())
    || (el.getAttribute('aria-labelledby') || '').split(/\\s+/)
         .some(id => id && (document.getElementById(id)?.textContent || '').trim());
  return [...document.querySelectorAll('input, select, textarea')]
    .filter(el => !skip.has((el.getAttribute('type') || '').toLowerCase()))
    .filter(el => !named(el))
    .map(el => el.outerHTML.replace(/\\s+/g, ' ').slice(0, 200));
}"""

# Marks every element the Tab key must reach, in document order (one stop per radio group), and
# returns what each is; remembers each one's box shadow unfocused, to tell a focus ring apart.
TAB_STOPS = """() => {
  const stops = [];
  const groups = new Map();
  const selector = 'a[href], area[href], button, input, select, textarea, summary, iframe, ' +
                   '[tabindex], [contenteditable="true"]';
  for (const el of document.querySelectorAll(selector)) {
    if (el.disabled || el.tabIndex < 0 || el.type === 'hidden') continue;
    if (!el.checkVisibility({visibilityProperty: true})) continue;
    el.dataset.baseShadow = getComputedStyle(el).boxShadow;
    if (el.type === 'radio' && el.name) {
      const key = (el.form ? 'f' : 'd') + ':' + el.name;
      if (groups.has(key)) { el.dataset.tabStop = groups.get(key); continue; }
      groups.set(key, String(stops.length));
    }
    el.dataset.tabStop = String(stops.length);
    stops.push(el.outerHTML.replace(/\\s+/g, ' ').slice(0, 160));
  }
  return stops;
}"""

FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body || el === document.documentElement) return null;
  const s = getComputedStyle(el);
  const transparent = /transparent|rgba\\([^)]*,\\s*0\\)$/.test(s.outlineColor);
  const outline = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 1 && !transparent;
  const ring = s.boxShadow !== 'none' && s.boxShadow !== el.dataset.baseShadow;
  const box = el.getBoundingClientRect();
  const onScreen = box.right > 0 && box.bottom > 0 && box.left < innerWidth && box.top < innerHeight;
  const fields = ['date', 'time', 'datetime-local', 'month', 'week'];
  return {stop: el.dataset.tabStop ?? null, visible: (outline || ring) && onScreen,
          fields: el.tagName === 'INPUT' && fields.includes(el.type),
          what: el.outerHTML.replace(/\\s+/g, ' ').slice(0, 160)};
}"""

# What sticks out of the page's width (outside a box that scrolls on its own), when it scrolls.
OVERFLOW = """() => {
  const root = document.scrollingElement || document.documentElement;
  const width = root.clientWidth;
  if (root.scrollWidth <= width) return null;
  const scrolls = el => { for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      const x = getComputedStyle(p).overflowX; if (x === 'auto' || x === 'scroll' || x === 'hidden') return true; }
    return false; };
  const wide = [...document.body.querySelectorAll('*')]
    .filter(el => el.getBoundingClientRect().right > width + 1 && !scrolls(el))
    .slice(0, 5).map(el => el.outerHTML.replace(/\\s+/g, ' ').slice(0, 120));
  return {scrollWidth: root.scrollWidth, clientWidth: width, wide};
}"""


def axe_violations(page: Page) -> list[str]:
    found: list[dict[str, Any]] = page.evaluate(AXE_RUN, WCAG_TAGS)
    return [f"{v['id']} ({v['impact']}): {v['help']}: {v['nodes']}" for v in found]


def unlabelled_fields(page: Page) -> list[str]:
    return [f"no label: {field}" for field in page.evaluate(UNLABELLED)]


def keyboard_problems(page: Page) -> list[str]:
    """Tab from the top of a freshly loaded page: each press must land on the next stop, in
    document order, with a visible focus indicator, until every stop was reached."""
    stops: list[str] = page.evaluate(TAB_STOPS)
    assert len(stops) <= MAX_TAB_STOPS, f"{len(stops)} tab stops: paginate the page"
    problems = []
    focused: dict[str, Any] | None = None
    for expected, what in enumerate(stops):
        focused = next_stop(page, focused)
        if focused is None or focused["stop"] != str(expected):
            reached = "nothing" if focused is None else focused["what"]
            problems.append(f"Tab {expected + 1} should reach {what}, reached {reached}")
            break
        if not focused["visible"]:
            problems.append(f"no visible focus outline on {what}")
    return problems


def next_stop(page: Page, current: dict[str, Any] | None) -> dict[str, Any] | None:
    """Press Tab until focus leaves the current element: a date or time input takes one Tab per
    part (day, month, year) inside the one field."""
    focused: dict[str, Any] | None = None
    for _ in range(MAX_PARTS + 1):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        if current is None or focused is None or not current["fields"]:
            return focused
        if focused["stop"] != current["stop"]:
            return focused
    return focused


def overflow_problems(page: Page, label: str) -> list[str]:
    found = page.evaluate(OVERFLOW)
    if found is None:
        return []
    return [
        f"{label}: the page scrolls sideways ({found['scrollWidth']} > {found['clientWidth']} "
        f"CSS px); too wide: {found['wide']}"
    ]


def check_desktop(page: Page) -> list[str]:
    """Keyboard first (on the page as loaded), then labels and axe."""
    return keyboard_problems(page) + unlabelled_fields(page) + axe_violations(page)


def new_context(browser: Browser, state: Any, viewport: dict[str, int]) -> BrowserContext:
    context = browser.new_context(
        viewport=viewport,  # type: ignore[arg-type]
        storage_state=state,
        locale="id-ID",
        timezone_id="Asia/Jakarta",
        bypass_csp=True,  # to inject axe-core; the pages' own scripts are all 'self'
    )
    context.add_init_script(path=AXE)
    context.set_default_timeout(15_000)
    return context


def open_page(page: Page, url: str) -> Page:
    answer = page.goto(url)
    assert answer is not None and answer.status == 200, f"{url}: {answer and answer.status}"
    assert page.url == url, f"{url} went to {page.url}"
    return page


def look_at(page: Page) -> list[str]:
    """The checks of a page just loaded: at the desktop size, then resized to a phone's width and
    to a 1280 px window at 200% zoom, which lays the page out in 640 CSS px (what the browser's
    zoom does; the device scale only changes how finely it is drawn)."""
    problems = check_desktop(page)
    page.set_viewport_size(PHONE)  # type: ignore[arg-type]
    problems += overflow_problems(page, "390 px wide")
    page.set_viewport_size(ZOOMED)  # type: ignore[arg-type]
    problems += overflow_problems(page, "200% zoom (640 CSS px)")
    page.set_viewport_size(DESKTOP)  # type: ignore[arg-type]
    return problems


class Tabs(dict[Role | None, Page]):
    """One browser tab per role (None: signed out), signed in on first use."""

    def __init__(self, browser: Browser, site: LiveServer) -> None:
        super().__init__()
        self.browser, self.site = browser, site
        self.contexts: list[BrowserContext] = []

    def __missing__(self, role: Role | None) -> Page:
        context = new_context(self.browser, None, DESKTOP)
        self.contexts.append(context)
        page = context.new_page()
        if role is not None:
            sign_in(page, self.site, role)
        self[role] = page
        return page


@pytest.fixture(scope="module")
def tabs(browser: Browser, demo_server: LiveServer) -> Iterator[Tabs]:
    opened = Tabs(browser, demo_server)
    try:
        yield opened
    finally:
        for context in opened.contexts:
            context.close()


@pytest.mark.parametrize("case", every_page(), ids=case_id)
def test_every_page_is_accessible(
    case: tuple[Role | None, str], demo_server: LiveServer, tabs: Tabs
) -> None:
    role, path = case
    problems = look_at(open_page(tabs[role], f"{demo_server.url}{path}"))
    assert problems == [], f"{case_id(case)}:\n" + "\n".join(problems)


def test_the_vendored_axe_is_the_published_one() -> None:
    assert hashlib.sha256(AXE.read_bytes()).hexdigest() == AXE_SHA256


# -- the checks themselves fail on a page that breaks them ---------------------------------------
GOOD = """<!doctype html><html lang="id"><head><title>t</title>
<style>:focus-visible { outline: 3px solid #f2a900; } body { margin: 0; }</style></head>
<body><main><h1>Judul</h1><a href="#a">satu</a>
<form><label for="n">Nama</label><input id="n" name="n"><button>Kirim</button></form>
<p>%s</p></main></body></html>"""
BROKEN = {
    "axe": GOOD.replace('lang="id"', "").replace("<title>t</title>", ""),
    "label": GOOD.replace('<label for="n">Nama</label>', ""),
    "tab order": GOOD.replace("<button>", '<button tabindex="1">'),
    "focus outline": GOOD.replace("</style>", "a:focus { outline: none; }</style>"),
    "reflow": GOOD % '<span style="display:inline-block;width:900px">lebar</span>',
}


@pytest.fixture
def blank(browser: Browser) -> Iterator[Page]:
    context = new_context(browser, None, DESKTOP)
    try:
        yield context.new_page()
    finally:
        context.close()


def run_checks(page: Page, html: str) -> list[str]:
    page.set_content(html)
    page.add_script_tag(path=AXE)  # set_content replaces the document the init script ran in
    return look_at(page)


def test_the_checks_pass_a_good_page(blank: Page) -> None:
    assert run_checks(blank, GOOD % "isi") == []


@pytest.mark.parametrize("broken", sorted(BROKEN))
def test_the_checks_catch_each_problem(blank: Page, broken: str) -> None:
    problems = run_checks(blank, BROKEN[broken].replace("%s", "isi"))
    words = {
        "axe": "html-has-lang",
        "label": "no label",
        "tab order": "should reach",
        "focus outline": "no visible focus outline",
        "reflow": "scrolls sideways",
    }
    assert any(words[broken] in p for p in problems), problems
