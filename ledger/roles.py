"""Who may do what. Roles follow PP 12/2019 and Permendagri 77/2020 on regional financial management."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ledger.errors import InvalidInput, RoleNotPermitted

MAX_USER_ID_LENGTH = 128


class Role(StrEnum):
    PPTK = "pptk"  # pejabat pelaksana teknis kegiatan: prepares the SPP
    BENDAHARA = "bendahara"  # bendahara pengeluaran: may also prepare the SPP
    PPK = "ppk"  # pejabat penatausahaan keuangan SKPD: verifies
    PA_KPA = "pa_kpa"  # pengguna / kuasa pengguna anggaran: signs the SPM
    KUASA_BUD = "kuasa_bud"  # BPKAD: issues the SP2D
    BPKAD_ADMIN = "bpkad_admin"  # budget administration: APBD, APBD-P, pergeseran, blokir, vendors
    GATEWAY = "gateway"  # the payment adapter: reports sent/settled/failed/returned/refused
    AUDITOR = "auditor"  # reads everything, writes nothing
    VENDOR = "vendor"  # reads its own payments


@dataclass(frozen=True, slots=True)
class Actor:
    """The authenticated user behind a command. Recorded in every event."""

    user_id: str
    role: Role

    def __post_init__(self) -> None:
        if not isinstance(self.user_id, str) or not self.user_id.strip():
            raise InvalidInput("actor user id must be a non-empty string")
        if len(self.user_id) > MAX_USER_ID_LENGTH:
            raise InvalidInput(f"actor user id longer than {MAX_USER_ID_LENGTH} characters")
        if not isinstance(self.role, Role):
            raise InvalidInput(f"unknown role {self.role!r}")

    def require(self, allowed: frozenset[Role], step: str) -> None:
        if self.role not in allowed:
            names = ", ".join(sorted(r.value for r in allowed))
            raise RoleNotPermitted(f"{step} needs role {names}; {self.user_id} acts as {self.role}")


# Each step of an LS disbursement and the roles that may perform it.
REQUEST = frozenset({Role.PPTK, Role.BENDAHARA})
VERIFY = frozenset({Role.PPK})
APPROVE = frozenset({Role.PA_KPA})
AUTHORISE = frozenset({Role.KUASA_BUD})
GATEWAY = frozenset({Role.GATEWAY})
CANCEL = frozenset({Role.PPTK, Role.BENDAHARA, Role.BPKAD_ADMIN, Role.KUASA_BUD})
BUDGET_ADMIN = frozenset({Role.BPKAD_ADMIN})
VENDOR_ADMIN = frozenset({Role.BPKAD_ADMIN})
# Income is reported by the gateway adapter, or entered by BPKAD for receipts outside it.
REVENUE = frozenset({Role.GATEWAY, Role.BPKAD_ADMIN})
# BPKAD reconciles the RKUD; a Kuasa BUD may also close a difference (e.g. a re-issued SP2D).
RECONCILE = frozenset({Role.BPKAD_ADMIN})
RESOLVE_EXCEPTION = frozenset({Role.BPKAD_ADMIN, Role.KUASA_BUD})
