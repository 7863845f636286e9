"""The pages, one module per workflow. Each module has a ``router`` and may have:

- ``NAV``: its entries in the menu (``NavItem``: label, path, the roles that see it);
- ``PAGES``: the GET paths a user of each role can open without parameters (the accessibility
  test, the screenshots and the page benchmark visit each);
- ``cards(db, session, now)``: what waits for the user on Beranda (``web.pages.home.Card``), run
  inside a read of the read models;
- ``PUBLIC``: the GET paths anyone can open signed out, without parameters (the public portal).

To add a page: write its module here, add it to ``MODULES`` (docs/web.md)."""

from __future__ import annotations

from types import ModuleType

from fastapi import APIRouter

from ledger.roles import Role
from web.nav import NavItem
from web.pages import (
    advance,
    anggaran_kas,
    approvals,
    audit,
    exports,
    home,
    lra,
    oidc,
    payment,
    portal,
    publik,
    publik_data,
    reconciliation,
    redflags,
    signin,
    spp,
    transfers,
    vendors,
    yearend,
)

# In menu order.
MODULES: tuple[ModuleType, ...] = (
    signin, oidc, home, spp, advance, approvals, payment, transfers, vendors, reconciliation, portal,
    audit, redflags, lra, exports, yearend, anggaran_kas, publik, publik_data,
)  # fmt: skip


def _nav(module: ModuleType) -> list[NavItem]:
    return list(getattr(module, "NAV", []))


ROUTERS: tuple[APIRouter, ...] = tuple(m.router for m in MODULES)
NAV: tuple[NavItem, ...] = tuple(item for m in MODULES for item in _nav(m))


def nav_for(role: Role) -> list[NavItem]:
    return [item for item in NAV if role in item.roles]


def pages_for(role: Role) -> list[str]:
    """The GET paths a user of ``role`` can open without parameters."""
    paths: list[str] = []
    for module in MODULES:
        paths += getattr(module, "PAGES", {}).get(role, [])
    return paths


def public_pages() -> list[str]:
    """The GET paths anyone can open signed out, without parameters."""
    return [path for module in MODULES for path in getattr(module, "PUBLIC", [])]
