"""Jinja2 pages: one environment (autoescaped: every value a page shows is escaped, a stored
``<script>`` included), the formats of ``web.format`` as filters, and ``page`` to answer with one.
Every page gets the signed-in ``session``, its ``csrf`` token, the ``nav`` of the user's role and
``now`` (WIB)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from web import format as fmt
from web.session import Session, csrf_token, current

ROLE_NAMES = {
    "pptk": "PPTK",
    "bendahara": "Bendahara Pengeluaran",
    "ppk": "PPK-SKPD",
    "pa_kpa": "PA/KPA",
    "kuasa_bud": "Kuasa BUD",
    "bpkad_admin": "Admin BPKAD",
    "gateway": "Gateway pembayaran",
    "auditor": "Auditor / Inspektorat",
    "vendor": "Penyedia",
}
STATUS_NAMES = {
    "requested": "SPP diajukan",
    "verified": "Terverifikasi PPK",
    "approved": "SPM disetujui",
    "authorised": "SP2D terbit",
    "sent": "Transfer terkirim",
    "settled": "Berhasil (masuk rekening)",
    "failed": "Transfer gagal",
    "returned": "Dikembalikan (retur)",
    "rejected": "Ditolak",
    "cancelled": "Dibatalkan",
    "lapsed": "Kedaluwarsa (tutup tahun)",
}

environment = Environment(
    loader=PackageLoader("web", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,  # a misspelt name is an error in the tests, not an empty cell
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.filters.update(
    rupiah=fmt.rupiah,
    angka=fmt.thousands,
    persen=fmt.persen,
    tanggal=fmt.tanggal,
    waktu=fmt.waktu,
    bulan=fmt.bulan,
    peran=lambda role: ROLE_NAMES.get(str(role), str(role)),
    status=lambda status: STATUS_NAMES.get(str(status), str(status)),
)


def new_key() -> str:
    """A form's idempotency key: a form posted twice (a double click, a reload) is one command."""
    return str(uuid.uuid4())


def page(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status: int = 200,
    session: Session | None = None,
    csrf: str | None = None,
    public: bool = False,
) -> HTMLResponse:
    """``template`` rendered for ``request``. A ``public`` page (the portal, ``/publik``) is the
    same for everyone: it is rendered as if no one were signed in (no name, no menu, no token),
    so that a shared cache may keep it."""
    from web.pages import nav_for

    who = None if public else session if session is not None else current(request)
    values: dict[str, Any] = {
        "request": request,
        "session": who,
        "csrf": "" if public else csrf if csrf is not None else csrf_token(request, who),
        "nav": nav_for(who.principal.role) if who is not None else [],
        "now": datetime.now(fmt.WIB),
        "path": request.url.path,
        "demo": request.app.state.settings.pages.demo,
        "new_key": new_key,
    }
    values.update(context or {})
    html = environment.get_template(template).render(values)
    return HTMLResponse(html, status_code=status)
