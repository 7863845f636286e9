"""An entry of the menu: a page modules' ``NAV`` lists its own (``web/pages/__init__.py``)."""

from __future__ import annotations

from dataclasses import dataclass

from ledger.roles import Role

EVERYONE = frozenset(Role) - {Role.GATEWAY}  # the gateway is a machine: it has no pages


@dataclass(frozen=True, slots=True)
class NavItem:
    label: str
    path: str
    roles: frozenset[Role]
