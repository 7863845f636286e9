"""``kasda demo``: a realistic fiscal year of one pemda, built deterministically from a seed.

Kota Bandung (32.73), APBD 2026: SKPD with Permendagri 90 codes, a DPA of a few hundred lines (sub
kegiatan x kode rekening, income lines too), a vendor registry with media companies, separate users for
every role, and over a thousand LS disbursements driven through their whole life by the ledger's own
commands, on a simulated clock that walks the working days of 2026 (WIB). Every rule stays on: the
demo also shows the ledger refusing what it must refuse (a blocked line, an SPP over the pagu, the maker
verifying their own SPP, a vendor that is blacklisted, ...).

Money leaves the RKUD through the Midtrans-compatible simulator (``gateways.simulator``), in-process on
the demo's clock: at every working day's SEND slot the authorised SP2Ds are paid through Iris by the
payout service (``gateways.payouts``: derived reference, account validation, maker-checker, facts
recorded once); at the BANK slot the bank runs the day's payouts, Iris notifies ``gateways.webhooks`` of
each and the ledger records it settled or failed (the service's poller catches what a notification
missed). The stories are the simulator's faults: payouts that fail (sent again the next day, or the
SP2D withdrawn), payouts the vendor's bank sends back, a payout the service refuses to send because the
vendor's account changed after the SP2D, and Iris notifications delivered twice that record nothing the
second time. The gateway's and the bank's daily files of the year (payout and settlement reports, RKUD
statement as MT940 and CSV) can be written for reconciliation. Income paid by QRIS or virtual account
is billed at the simulator through ``midtransclient`` (Core API), paid there and recorded from its
status by ``gateways.receipts``; central transfers (4.2) and teller payments, which pass no gateway,
are recorded directly.

The same seed gives the same store contents and the same printed numbers. Run twice on the same store,
the demo does not build the year again: it says so and prints the totals that are in the store. An
SQLite store is stamped with the seed and version that built it (``command.Stamp``); another seed or
``DEMO_VERSION`` builds it again. On a terminal, ``kasda demo`` then serves the web app in demo mode
(``serve``) until Ctrl-C.

The package, one module per part (each small enough to read in one sitting):

- ``pemda``      Kota Bandung: SKPD and programmes, vendors' names, banks, people's names, calendar
- ``users``      the sign-in users of ``kasda users`` / ``kasda token`` (and of the tests' tokens)
- ``chart``      kode rekening the DPA uses, their vendors and taxes; payment sizes; support programme
- ``world``      the plan's objects (SKPD, lines, vendors), time slots, actions, clock, build report
- ``lifecycle``  one planned disbursement and the commands of its life
- ``DemoYear`` (``year``) composes named parts, each with its own state, sharing one random stream:
  ``Calendar`` and ``Schedule`` (``state``: working days, time slots, the planned commands),
  ``People`` (``people``: users, units, lines, vendors), ``AdminCommands`` (``admin``: budget and
  vendor commands), ``Payments`` (``payments``: the lifecycles and how each ends), ``Stories``
  (``stories``: the blokir, the pergeseran and APBD-P, the refusals), ``Income`` (``income``),
  ``Planner`` (``plan``: the year from the seed) and ``Treasury`` (``treasury``: each day at the
  gateway and the bank); ``DemoYear.run`` plays the plan through the ledger and the simulator
- ``gateway``    ``DemoGateway`` and ``pay_all``: an in-process simulator with the Iris and Midtrans
                 clients on the ledger's clock, and the daily files for reconciliation
- ``schemes``    the red-flag schemes planted in the year (``scheme_plans`` plants each): their
                 cases, by rule, for the summary and the tests
- ``advance``    the bendahara's advances of a few SKPD: UP, SPJ in cash and by KKPD, card bills,
                 GU, a TU, GU nihil and setoran; their money on the RKUD statement, the KKPD
                 statement of the year
- ``redflags``   the red-flag run the auditor records at year end, printed beside the planted cases
- ``summary``    the counts and totals read back from the store, and how they are printed
- ``command``    ``kasda demo`` itself: ``run_demo`` and ``build_demo``, the store's stamp
- ``serve``      after the build, on a terminal: the web app in demo mode until Ctrl-C
"""

from __future__ import annotations

from kasda.demo.chart import (
    AMOUNTS,
    CATERING,
    GOODS,
    REKENING,
    SERVICES,
    SUPPORT,
    SUPPORT_KECAMATAN,
    TAX_RATES,
    WORKS,
    Rekening,
    rek,
)
from kasda.demo.command import build_demo, demo_exists, files_folder, run_demo, sqlite_path
from kasda.demo.lifecycle import CANCEL_REASONS, REJECT_REASONS, Lifecycle
from kasda.demo.payments import VENDOR_QUIET_DAYS
from kasda.demo.pemda import (
    APBD_P_NEW_LINES,
    BANKS,
    DEFAULT_LIFECYCLES,
    FIRST_NAMES,
    HOLIDAYS,
    KPP_BANDUNG,
    MONTH_WEIGHTS,
    PEMDA,
    PEMDA_NAME,
    ROMAN,
    SKPDS,
    VENDORS,
    WIB,
    YEAR,
    Program,
    SkpdSpec,
)
from kasda.demo.plan import SPECIAL_OUTCOMES
from kasda.demo.summary import DOMAIN_EVENTS, EVENT_KINDS, Totals, format_totals, read_totals
from kasda.demo.world import (
    Action,
    Build,
    BuildReport,
    DemoError,
    Expect,
    Line,
    SimulatedClock,
    Skpd,
    Slot,
    Vendor,
    count,
    million_down,
    million_up,
    rupiah,
    working_days,
)
from kasda.demo.year import DAILY_FILES, DemoYear

__all__ = [
    "AMOUNTS",
    "APBD_P_NEW_LINES",
    "BANKS",
    "CANCEL_REASONS",
    "CATERING",
    "DAILY_FILES",
    "DEFAULT_LIFECYCLES",
    "DOMAIN_EVENTS",
    "EVENT_KINDS",
    "FIRST_NAMES",
    "GOODS",
    "HOLIDAYS",
    "KPP_BANDUNG",
    "MONTH_WEIGHTS",
    "PEMDA",
    "PEMDA_NAME",
    "REJECT_REASONS",
    "REKENING",
    "ROMAN",
    "SERVICES",
    "SKPDS",
    "SPECIAL_OUTCOMES",
    "SUPPORT",
    "SUPPORT_KECAMATAN",
    "TAX_RATES",
    "VENDORS",
    "VENDOR_QUIET_DAYS",
    "WIB",
    "WORKS",
    "YEAR",
    "Action",
    "Build",
    "BuildReport",
    "DemoError",
    "DemoYear",
    "Expect",
    "Lifecycle",
    "Line",
    "Program",
    "Rekening",
    "SimulatedClock",
    "Skpd",
    "SkpdSpec",
    "Slot",
    "Totals",
    "Vendor",
    "build_demo",
    "count",
    "demo_exists",
    "files_folder",
    "format_totals",
    "million_down",
    "million_up",
    "read_totals",
    "rek",
    "run_demo",
    "rupiah",
    "sqlite_path",
    "working_days",
]
