r"""Who may do what, and for which SKPD. Roles follow PP 12/2019 and Permendagri 77/2020 on regional
financial management.

Scope. The officials of a spending unit act for their own SKPD only: the PPTK and the bendahara
pengeluaran prepare its SPP, its PPK-SKPD verifies them, its PA/KPA signs their SPM. BPKAD (budget
administration, the Kuasa BUD who issues every SP2D), the payment adapter and the inspectorate act
for the whole pemda; a vendor sees only its own payments (by NPWP, at the API). An ``Actor`` of an
SKPD-bound role therefore always carries its SKPD's code, and an actor of a pemda-wide role never
does; ``Actor.require_skpd`` is the one check, run by the ledger's handlers on every command that
touches an SKPD's line or payment (``SkpdScope``, rule ``skpd_scope``).

Identity. Separation of duties asks whether two steps were taken by one person, so it compares
``identity(user_id)``, never the raw strings: NFKC, case-folded, trimmed, with default-ignorable
characters (zero-width spaces and joiners, soft hyphens, variation selectors) removed, i.e. Unicode's
NFKC_Casefold. ``" alice"``, ``"ALICE"``, ``"alice\u200b"`` and ``"\uff41lice"`` are one person, and so
are ``"a.lice"``, ``"a\uff0elice"`` (fullwidth full stop) and ``"a\u2024lice"`` (one dot leader). The
user id itself is the identity provider's subject (``sub``), recorded in events as it came.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from ledger.codes import normalise_skpd
from ledger.errors import DomainError, InvalidInput, RoleNotPermitted, SkpdScope

MAX_USER_ID_LENGTH = 128


class Role(StrEnum):
    PPTK = "pptk"  # pejabat pelaksana teknis kegiatan: prepares the SPP
    BENDAHARA = "bendahara"  # bendahara pengeluaran: may also prepare the SPP
    PPK = "ppk"  # pejabat penatausahaan keuangan SKPD: verifies
    PA_KPA = "pa_kpa"  # pengguna / kuasa pengguna anggaran: signs the SPM
    KUASA_BUD = "kuasa_bud"  # BPKAD: issues the SP2D
    BPKAD_ADMIN = "bpkad_admin"  # budget administration: APBD, APBD-P, pergeseran, blokir, vendors
    GATEWAY = "gateway"  # the payment adapter: reports sent/settled/failed/returned/refused
    AUDITOR = "auditor"  # inspectorate: reads everything; writes only red-flag runs and reviews
    VENDOR = "vendor"  # reads its own payments


# The officials of one spending unit: they act for their own SKPD only.
SKPD_BOUND = frozenset({Role.PPTK, Role.BENDAHARA, Role.PPK, Role.PA_KPA})

# Code points that NFKC_Casefold removes (Default_Ignorable_Code_Point): the format characters
# (category Cf: zero-width space / joiners, soft hyphen, bidi marks, tags) and these.
_IGNORABLE_RANGES = (
    (0x034F, 0x034F),  # combining grapheme joiner
    (0x115F, 0x1160),  # hangul fillers
    (0x17B4, 0x17B5),  # khmer inherent vowels
    (0x180B, 0x180F),  # mongolian free variation selectors
    (0x3164, 0x3164),  # hangul filler
    (0xFE00, 0xFE0F),  # variation selectors
    (0xFFA0, 0xFFA0),  # halfwidth hangul filler
    (0xE0000, 0xE0FFF),  # tags and variation selectors supplement
)


def _ignorable(ch: str) -> bool:
    if unicodedata.category(ch) == "Cf":
        return True
    point = ord(ch)
    return any(low <= point <= high for low, high in _IGNORABLE_RANGES)


def identity(user_id: str) -> str:
    """The person a user id names, for separation of duties: NFKC_Casefold of the id, trimmed.

    ``NFKC(casefold(NFKC(x)))`` as Unicode defines the closure of case folding under
    compatibility normalisation, after removing default-ignorable characters. The one place kasda
    decides whether two user ids are one person."""
    if user_id.isascii():
        # The common case, and the hot one (every separation-of-duties check folds two ids): no
        # ASCII character is default-ignorable, NFKC leaves ASCII as it is, and ASCII casefolds
        # to lower case, so the general path below would return exactly this.
        return user_id.lower().strip()
    visible = "".join(ch for ch in user_id if not _ignorable(ch))
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", visible).casefold())
    return folded.strip()


@dataclass(frozen=True, slots=True)
class Actor:
    """The authenticated user behind a command: who (the identity provider's subject), in which
    role, and for SKPD-bound roles for which SKPD (its normalised code). Recorded in every event
    (``actor_id``, ``actor_role``)."""

    user_id: str
    role: Role
    skpd: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.user_id, str) or not identity(self.user_id):
            raise InvalidInput("actor user id must be a non-empty string")
        if len(self.user_id) > MAX_USER_ID_LENGTH:
            raise InvalidInput(f"actor user id longer than {MAX_USER_ID_LENGTH} characters")
        if not isinstance(self.role, Role):
            raise InvalidInput(f"unknown role {self.role!r}")
        if self.role in SKPD_BOUND:
            if self.skpd is None:
                raise InvalidInput(
                    f"{self.user_id} acts as {self.role} for one SKPD; the actor needs its code"
                )
            try:
                code = normalise_skpd(self.skpd)
            except DomainError as error:
                raise InvalidInput(f"actor {self.user_id}: {error.message}") from None
            object.__setattr__(self, "skpd", code)
        elif self.skpd is not None:
            raise InvalidInput(
                f"{self.user_id} acts as {self.role}, a pemda-wide role; it has no SKPD"
            )

    @property
    def identity(self) -> str:
        return identity(self.user_id)

    def same_person(self, user_id: str) -> bool:
        """Whether ``user_id`` (e.g. a performer recorded in an event) names this actor."""
        return identity(user_id) == self.identity

    def require(self, allowed: frozenset[Role], step: str) -> None:
        if self.role not in allowed:
            names = ", ".join(sorted(r.value for r in allowed))
            raise RoleNotPermitted(f"{step} needs role {names}; {self.user_id} acts as {self.role}")

    def may_act_for(self, skpd: str) -> bool:
        """Whether this actor may act on (or read) a thing of SKPD ``skpd``: a pemda-wide role
        always, an SKPD-bound role for its own SKPD only."""
        return self.skpd is None or self.skpd == skpd

    def require_skpd(self, skpd: str, what: str) -> None:
        if not self.may_act_for(skpd):
            # Which SKPD it belongs to is not said: that is the other SKPD's business.
            raise SkpdScope(
                f"{self.user_id} acts as {self.role} for SKPD {self.skpd}; {what} is another SKPD's"
            )


# Each step of an LS disbursement and the roles that may perform it.
REQUEST = frozenset({Role.PPTK, Role.BENDAHARA})
VERIFY = frozenset({Role.PPK})
APPROVE = frozenset({Role.PA_KPA})
AUTHORISE = frozenset({Role.KUASA_BUD})
GATEWAY = frozenset({Role.GATEWAY})
CANCEL = frozenset({Role.PPTK, Role.BENDAHARA, Role.BPKAD_ADMIN, Role.KUASA_BUD})
BUDGET_ADMIN = frozenset({Role.BPKAD_ADMIN})
# The bendahara pengeluaran keeps the SKPD's advance: prepares its SPP-UP/GU/TU, records each SPJ
# entry, pays the card bills and returns what is left (Permendagri 77/2020, 79/2022).
KEEP_ADVANCE = frozenset({Role.BENDAHARA})
VENDOR_ADMIN = frozenset({Role.BPKAD_ADMIN})
# Income is reported by the gateway adapter, or entered by BPKAD for receipts outside it.
REVENUE = frozenset({Role.GATEWAY, Role.BPKAD_ADMIN})
# BPKAD reconciles the RKUD; a Kuasa BUD may also close a difference (e.g. a re-issued SP2D).
RECONCILE = frozenset({Role.BPKAD_ADMIN})
RESOLVE_EXCEPTION = frozenset({Role.BPKAD_ADMIN, Role.KUASA_BUD})
# A run of the red-flag rules is recorded by the inspectorate or by BPKAD's nightly job (its
# thresholds are on record either way); only an inspector reviews a flag.
RECORD_RED_FLAGS = frozenset({Role.AUDITOR, Role.BPKAD_ADMIN})
REVIEW_RED_FLAG = frozenset({Role.AUDITOR})
# BPKAD decides which of the pemda's systems hear which events (the event feed, ``ledger.feed``).
FEED_ADMIN = frozenset({Role.BPKAD_ADMIN})
