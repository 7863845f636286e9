"""The people of the pemda (users in every role), its SKPD, budget lines and vendors."""

from __future__ import annotations

import random

from gateways.facts import GATEWAY_ACTOR
from kasda.demo.chart import SUPPORT, SUPPORT_KECAMATAN, rek
from kasda.demo.pemda import (
    APBD_P_NEW_LINES,
    BANKS,
    FIRST_NAMES,
    KPP_BANDUNG,
    SKPDS,
    VENDORS,
    SkpdSpec,
)
from kasda.demo.world import Line, Skpd, Vendor
from ledger.roles import Actor, Role


class People:
    """People, units, lines and vendors of the year; the vendors' NPWP and bank accounts (and the
    accounts they change to) are drawn from ``rng``."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self._names = iter(FIRST_NAMES * 4)
        self.admins = [self._actor("bpkad.admin", Role.BPKAD_ADMIN) for _ in range(2)]
        self.kuasa_bud = [self._actor("bpkad.kuasabud", Role.KUASA_BUD) for _ in range(3)]
        self.gateways = [GATEWAY_ACTOR]
        self.skpds = [self._skpd(spec.short.lower(), spec) for spec in SKPDS]
        self.skpd_by_short = {s.short: s for s in self.skpds}
        self.lines = [line for skpd in self.skpds for line in self._lines(skpd)]
        self.new_lines = [self._new_line(*spec) for spec in APBD_P_NEW_LINES]
        keys = [(x.skpd.code, x.sub_kegiatan, x.code) for x in self.lines + self.new_lines]
        assert len(keys) == len(set(keys)), "two demo lines share a key"
        self.vendors = self._vendors()
        self.pool: dict[str, list[Vendor]] = {}
        for v in self.vendors:
            self.pool.setdefault(v.category, []).append(v)
        self._vendor_no = {id(v): n for n, v in enumerate(self.vendors, 1)}

    def _actor(self, prefix: str, role: Role, skpd: str | None = None) -> Actor:
        """A user: an official of ``skpd`` (its officials act for it only), or pemda-wide."""
        return Actor(f"{prefix}.{next(self._names)}", role, skpd)

    def _skpd(self, unit: str, spec: SkpdSpec) -> Skpd:
        code = spec.code
        return Skpd(
            spec=spec,
            pptk=[self._actor(f"{unit}.pptk", Role.PPTK, code) for _ in range(spec.size + 1)],
            bendahara=self._actor(f"{unit}.bendahara", Role.BENDAHARA, code),
            ppk=[self._actor(f"{unit}.ppk", Role.PPK, code) for _ in range(max(1, spec.size - 1))],
            pa=[self._actor(f"{unit}.pa", Role.PA_KPA, code) for _ in range(1 + (spec.size == 3))],
        )

    @staticmethod
    def _lines(skpd: Skpd) -> list[Line]:
        """The unit's DPA: the support programme and its own, an account a line; its income."""
        prefix = skpd.code[:4]  # urusan.bidang of the unit
        support = SUPPORT_KECAMATAN if skpd.spec.kecamatan else SUPPORT
        programme = [(f"{prefix}.01.{code}", name, accs) for code, name, accs in support]
        own = [(sub, name, accounts.split()) for sub, name, accounts in skpd.spec.programme]
        lines = []
        for n, (sub, name, accounts) in enumerate([*programme, *own]):
            for account in accounts:
                r = rek(account)
                pptk = skpd.pptk[n % len(skpd.pptk)]
                lines.append(Line(skpd, sub, name, r.code, r.uraian, r, pptk))
        for code, uraian, _share in skpd.spec.income:
            lines.append(Line(skpd, None, "", code, uraian, None, skpd.pptk[0]))
        return lines

    def _new_line(self, short: str, sub: str, name: str, account: str) -> Line:
        """A line the APBD-P adds."""
        skpd, r = self.skpd_by_short[short], rek(account)
        return Line(skpd, sub, name, r.code, r.uraian, r, skpd.pptk[0], special="new")

    def _vendors(self) -> list[Vendor]:
        rng, vendors, seen = self.rng, [], set[str]()
        for category, names in VENDORS.items():
            for name in names:
                digits = ""
                while not digits or digits in seen:
                    digits = (
                        f"{rng.randint(1, 99):02d}{rng.randrange(1000):03d}{rng.randrange(1000):03d}"
                        f"{rng.randrange(10)}{rng.choice(KPP_BANDUNG)}000"
                    )
                seen.add(digits)
                npwp = f"{digits[:2]}.{digits[2:5]}.{digits[5:8]}.{digits[8]}-{digits[9:12]}.{digits[12:]}"
                if rng.random() < 0.2:  # the 16-digit form (since 2024), without punctuation
                    npwp = "0" + digits
                bank, account = self.account()
                vendors.append(Vendor(name, category, npwp, bank, account))
        return vendors

    def account(self) -> tuple[str, str]:
        """A new bank account: the bank's code and an account number of its length."""
        code, _name, length, _share = self.rng.choices(BANKS, weights=[b[3] for b in BANKS])[0]
        first = str(self.rng.randint(1, 9))
        return code, first + "".join(str(self.rng.randrange(10)) for _ in range(length - 1))

    def vendor_no(self, vendor: Vendor) -> int:
        return self._vendor_no[id(vendor)]
