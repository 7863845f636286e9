"""The demo's sign-in users: one per role, for ``kasda users`` and ``kasda token`` (and for the
tokens of the tests). The officials of a spending unit act for the demo's Dinas Pendidikan; the
vendor user signs in for a media company of Bandung."""

from __future__ import annotations

from kasda.demo.pemda import SKPDS
from ledger.roles import Role

# The SKPD the officials (``ledger.roles.SKPD_BOUND``) act for unless told otherwise.
OFFICIALS_SKPD = next(s.code for s in SKPDS if s.short == "DISDIK")
# The vendor user's company: its NPWP is in the vendor's token.
VENDOR_NAME = "PT Pikiran Rakyat Bandung"
VENDOR_NPWP = "012345678901000"

# One user per role; the user ids differ, so that no request trips separation of duties by accident.
USERS: dict[Role, str] = {
    Role.PPTK: "pptk.ani",
    Role.BENDAHARA: "bendahara.eka",
    Role.PPK: "ppk.budi",
    Role.PA_KPA: "kadis.citra",
    Role.KUASA_BUD: "kuasabud.dedi",
    Role.BPKAD_ADMIN: "bpkad.admin",
    Role.GATEWAY: "gateway.iris",
    Role.AUDITOR: "auditor.fajar",
    Role.VENDOR: "vendor.prb",
}
