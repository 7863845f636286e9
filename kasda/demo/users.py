"""The demo's sign-in users: one per role, for ``kasda users`` and ``kasda token`` (and for the
tokens of the tests). The officials of a spending unit act for the demo's Dinas Pendidikan; the
vendor user signs in for a media company of Bandung."""

from __future__ import annotations

from kasda.demo.pemda import PEMDA, SKPDS
from ledger.roles import SKPD_BOUND, Role
from web.settings import DemoUser

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


# Who the pemda-wide users are, on the sign-in page.
PEMDA_WIDE = {Role.KUASA_BUD: "BPKAD", Role.BPKAD_ADMIN: "BPKAD", Role.AUDITOR: "Inspektorat"}


def demo_sign_ins(vendor: tuple[str, str] | None = None) -> tuple[DemoUser, ...]:
    """The demo sign-in page's users (``KASDA_DEMO_MODE``): one per role that has pages, and the
    PPK acting also as PA/KPA, to show separation of duties refusing a second step. ``vendor``
    (name, NPWP) is the company the vendor user signs in for; by default the tests' media
    company, which a demo year does not register (``kasda demo`` passes one of its own)."""
    vendor_name, vendor_npwp = vendor or (VENDOR_NAME, VENDOR_NPWP)
    officials = next(s.name for s in SKPDS if s.code == OFFICIALS_SKPD)
    users = []
    for role, user_id in USERS.items():
        if role is Role.GATEWAY:  # a machine: it has no pages
            continue
        skpd = OFFICIALS_SKPD if role in SKPD_BOUND else None
        npwp = vendor_npwp if role is Role.VENDOR else None
        label = vendor_name if role is Role.VENDOR else officials if skpd else PEMDA_WIDE[role]
        users.append(DemoUser(user_id, role, PEMDA, skpd, npwp, label))
    users.append(
        DemoUser(
            USERS[Role.PPK],
            Role.PA_KPA,
            PEMDA,
            OFFICIALS_SKPD,
            None,
            "Plt. PA/KPA: menguji pemisahan tugas",
        )
    )
    return tuple(users)


def year_vendor(seed: int, lifecycles: int) -> tuple[str, str]:
    """The media company (name, NPWP) the demo's vendor user signs in for: the first the demo year
    of ``seed`` registers (the year's plan, drawn from the seed, names the same vendors as the
    store built from it)."""
    from kasda.demo.year import DemoYear
    from ledger.vendor import normalise_npwp

    people = DemoYear(seed, lifecycles).people
    first = next(v for v in people.vendors if v.category == "media")
    return first.name, normalise_npwp(first.npwp)


def stamped_sign_ins(database_url: str) -> tuple[DemoUser, ...]:
    """The sign-in users of a demo store: its vendor user one of the year's own vendors when the
    store says which year it holds (the stamp ``kasda demo`` writes beside an SQLite file)."""
    from kasda.demo.command import read_stamp, sqlite_path

    path = sqlite_path(database_url)
    stamp = read_stamp(path) if path is not None else None
    return demo_sign_ins(year_vendor(stamp.seed, stamp.lifecycles) if stamp else None)
