"""How long the red-flag rules take over a large history (issue 15, point 7).

A seeded, vectorised generator (numpy and Polars, no loop over rows) builds a year of one pemda
directly as ``audit.frames.Frames`` of the engine's schemas: ``--payments`` disbursements (default
1,000,000) of ~20,000 vendors on the lines (SKPD x sub kegiatan x kode rekening) of 40 SKPD, each
with its six steps (Requested .. Settled: ~6M step rows) by the unit's officials, at working hours
over 2026 (UTC, as the read models hold them); the vendors' bank accounts with some changes, a few
shared ones, vendors registered during the year; a reconciliation run a working day with its
exceptions; and some of each scheme planted (split purchases, invoices paid twice, accounts
changed just before a payment, nights and Sundays, SPP to SP2D within the hour, new vendors paid
large amounts, a December spike, a media company taking an SKPD's advertising).

``audit.engine.detect`` then runs every rule registered in ``audit.rules.RULES`` with the default
thresholds: the seconds of each rule (its query collected and its flags worded), of materialising
the frames, and in all, in wall and CPU seconds (CPU: the process's, every thread; on a shared
machine the wall seconds grow with its load, the CPU seconds much less). In the same process, as
a reference for the machine: Polars writing the payments frame to CSV and reading it back, and a
group_by over the steps; the ratio of the rules' total to each. Peak RSS (``ru_maxrss``) after
generating and after detecting.

    .venv/bin/python benchmarks/bench_redflags.py [--payments N] [--seed S]
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import resource
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from audit import thresholds
from audit.engine import Detection, detect
from audit.frames import ACCOUNTS, EXCEPTIONS, PAYMENTS, STEPS, VENDORS, Frames
from audit.rules import RULES

PEMDA, YEAR = "32.73", 2026
US_PER_HOUR = 3_600_000_000
US_PER_DAY = 24 * US_PER_HOUR
EVENTS = ("Requested", "Verified", "Approved", "Authorised", "Sent", "Settled")
ROLES = ("pptk", "ppk", "pa_kpa", "kuasa_bud", "gateway", "gateway")
_YEAR_START = int(datetime(YEAR, 1, 1, tzinfo=UTC).timestamp() * 1_000_000)


def _ids(prefix: str, numbers: np.ndarray) -> pl.Series:
    digits = pl.Series(numbers, dtype=pl.Int64).cast(pl.String).str.zfill(7)
    return pl.select(pl.concat_str(pl.lit(prefix), pl.lit(digits))).to_series()


def _moment(us: np.ndarray) -> pl.Series:
    return pl.Series(us, dtype=pl.Int64).cast(pl.Datetime("us", "UTC"))


# National holidays and cuti bersama of 2026 on weekdays (SKB 3 Menteri): no office works on them.
_HOLIDAYS = [
    "01-01",
    "01-16",
    "02-16",
    "02-17",
    "03-18",
    "03-19",
    "03-20",
    "03-23",
    "03-24",
    "04-03",
    "05-01",
    "05-14",
    "05-15",
    "05-27",
    "05-28",
    "06-01",
    "06-16",
    "08-17",
    "08-25",
    "12-24",
    "12-25",
]
_DAYS = np.arange(400)  # days since 1 Jan 2026 (a Thursday), into the next January
_OFF = [
    datetime(YEAR, int(h[:2]), int(h[3:]), tzinfo=UTC).timetuple().tm_yday - 1 for h in _HOLIDAYS
]
_WORKING = ((_DAYS + 3) % 7 < 5) & ~np.isin(_DAYS, [*_OFF, 365])  # and New Year's Day 2027
_NEXT_WORKING = _DAYS[_WORKING][
    np.minimum(np.searchsorted(_DAYS[_WORKING], _DAYS), _WORKING.sum() - 1)
]


def _working_moments(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` moments on working days of the year (months weighted as the demo's), 08:00-16:00 WIB."""
    weights = np.array([2, 5, 7, 8, 8, 9, 8, 9, 9, 10, 11, 14], dtype=float)
    days = np.arange(1, 364)
    months = np.array([datetime.fromtimestamp(int(d) * 86400, UTC).month for d in days])  # 363 days
    p = np.where(_WORKING[days], weights[months - 1], 0.0)
    day = rng.choice(days, size=n, p=p / p.sum())
    local_hour = rng.uniform(8, 16, size=n)
    return _YEAR_START + day * US_PER_DAY + ((local_hour - 7) * US_PER_HOUR).astype(np.int64)


def generate(n: int, seed: int) -> Frames:  # noqa: PLR0915 - one straight recipe, read top to bottom
    rng = np.random.default_rng(seed)
    vendors_n, skpd_n, lines_n = 20_000, 40, 6_000
    # Lines: each an SKPD, a sub kegiatan of it and a kode rekening (advertising is 0055).
    line_skpd = rng.integers(0, skpd_n, lines_n)
    line_sub = line_skpd * 40 + rng.integers(0, 40, lines_n)
    line_rek = rng.integers(0, 60, lines_n)
    # Payments in time order (positions follow time), to vendors with a long tail of sizes.
    requested = np.sort(_working_moments(rng, n))
    line = rng.integers(0, lines_n, n)
    popularity = 1.0 / np.arange(1, vendors_n + 1) ** 0.8
    vendor = rng.choice(vendors_n, size=n, p=popularity / popularity.sum())
    gross = (np.exp(rng.uniform(np.log(1e6), np.log(2e9), n)) // 1000 * 1000).astype(np.int64)
    # Each step 0-2 working days after the one before (the SP2D at least a day after the SPM), at
    # office hours (08:00-16:00 WIB, later in the day than the step before when on the same day).
    day = requested // US_PER_DAY - _YEAR_START // US_PER_DAY
    gap = rng.choice([0, 0, 1, 1, 2], (n, 6))
    gap[:, 0], gap[:, 3] = 0, rng.choice([1, 1, 2], n)
    days = _NEXT_WORKING[np.minimum(day[:, None] + np.cumsum(gap, axis=1), _DAYS.size - 1)]
    hours = np.sort(rng.uniform(1, 9, (n, 6)), axis=1)  # UTC hours of 08:00-16:00 WIB
    hours[:, 0] = (requested % US_PER_DAY) / US_PER_HOUR
    hours[:, 1:] = np.maximum(hours[:, 1:], hours[:, :1])
    moments = (
        _YEAR_START + days * US_PER_DAY + (np.sort(hours, axis=1) * US_PER_HOUR).astype(np.int64)
    )
    status = rng.choice(["settled", "cancelled", "rejected"], size=n, p=[0.96, 0.02, 0.02])
    invoice = rng.integers(0, 10**9, n)

    # Schemes planted: each a few hundred times (rows chosen at random, changed in place).
    k = max(n // 5_000, 2)
    pick = rng.choice(n - 1, size=8 * k, replace=False)
    split, dup, night, fast = pick[:k], pick[k : 2 * k], pick[2 * k : 3 * k], pick[3 * k : 4 * k]
    vendor[split + 1], line[split + 1] = (
        vendor[split],
        line[split],
    )  # the next SPP, same vendor/line
    gross[split] = rng.integers(110_000, 190_000, k) * 1000
    gross[split + 1] = rng.integers(110_000, 190_000, k) * 1000
    vendor[dup + 1], invoice[dup + 1] = vendor[dup], invoice[dup]  # one invoice paid twice
    at_night = (moments[night, 3] // US_PER_DAY) * US_PER_DAY + 15 * US_PER_HOUR + 30 * 60_000_000
    moments[night, 3:] = at_night[:, None] + np.array([0, 11, 13]) * US_PER_HOUR  # 22:30 WIB
    moments[fast, 1:4] = moments[fast, :1] + np.array([10, 20, 30]) * 60_000_000
    december = pick[4 * k : 5 * k]
    line[december] = line[0]
    # Moved by whole weeks into the first week of December: the same weekdays and hours.
    weeks = (_YEAR_START + 336 * US_PER_DAY - moments[december, :1]) // (7 * US_PER_DAY)
    moments[december] = moments[december] + weeks * 7 * US_PER_DAY
    advertising = pick[5 * k : 6 * k]
    line_rek[line[advertising]] = 55
    vendor[advertising] = vendors_n - 1

    ids = _ids("d", np.arange(n))
    payments = pl.DataFrame(
        {
            "disbursement_id": ids, "pemda": pl.repeat(PEMDA, n, eager=True),
            "year": pl.repeat(YEAR, n, eager=True, dtype=pl.Int64),
            "spp_number": _ids("SPP-", np.arange(n)),
            "sp2d_number": _ids("SP2D-", np.arange(n)),
            "line_id": _ids("L", line), "skpd": _ids("S", line_skpd[line]),
            "sub_kegiatan": _ids("K", line_sub[line]),
            "rekening": _ids("5.1.02.02.01.", line_rek[line]),
            "vendor_id": _ids("v", vendor), "gross": gross, "status": status,
            "invoice": _ids("INV-", invoice), "contract": _ids("SPK-", np.arange(n)),
            "requested_at": _moment(moments[:, 0]), "verified_at": _moment(moments[:, 1]),
            "approved_at": _moment(moments[:, 2]),
            "authorised_at": _moment(moments[:, 3]),
            "sent_at": _moment(moments[:, 4]), "settled_at": _moment(moments[:, 5]),
        }
    ).with_columns(
        pl.when(pl.col("status") != "settled").then(None).otherwise(pl.col(c)).alias(c)
        for c in ("sp2d_number", "authorised_at", "sent_at", "settled_at")
    ).select(list(PAYMENTS))  # fmt: skip

    # Steps: six a settled payment (fewer for the others), by the unit's officials.
    officials = rng.integers(0, 4, (n, 6))
    unit = line_skpd[line]
    steps = (
        pl.concat(
            [
                pl.DataFrame(
                    {
                        "disbursement_id": ids,
                        "event": pl.repeat(event, n, eager=True),
                        "at": _moment(moments[:, e]),
                        "actor_id": _ids(f"{ROLES[e]}-", unit * 10 + officials[:, e]),
                        "actor_role": pl.repeat(ROLES[e], n, eager=True),
                        "version": pl.repeat(e + 1, n, eager=True, dtype=pl.Int64),
                        "position": np.arange(n, dtype=np.int64) * 6 + e + 100_000,
                        "keep": (status == "settled") | (e < 2),
                    }
                )
                for e, event in enumerate(EVENTS)
            ]
        )
        .filter("keep")
        .drop("keep")
        .select(list(STEPS))
    )

    # Vendors: most registered before the year; some during it (a few paid large sums soon after).
    registered = _YEAR_START - rng.integers(1, 2_000, vendors_n) * US_PER_DAY
    late = rng.choice(vendors_n, size=vendors_n // 50, replace=False)
    registered[late] = _working_moments(rng, late.size) - 30 * US_PER_DAY
    vendors = pl.DataFrame(
        {
            "vendor_id": _ids("v", np.arange(vendors_n)), "pemda": pl.repeat(PEMDA, vendors_n, eager=True),
            "kind": np.where(np.arange(vendors_n) % 10 == 0, "media", "company"),
            "registered_at": _moment(registered), "version": pl.repeat(1, vendors_n, eager=True, dtype=pl.Int64),
            "position": np.arange(vendors_n, dtype=np.int64) + 1,
        }
    ).select(list(VENDORS))  # fmt: skip

    # Accounts: one at registration; 3% change during the year (some back again), 40 pairs share.
    key = np.arange(vendors_n)
    key[rng.choice(vendors_n, 40, replace=False)] = rng.choice(vendors_n, 40)
    changed = rng.choice(vendors_n, vendors_n * 3 // 100, replace=False)
    when = _working_moments(rng, changed.size)
    accounts = pl.DataFrame(
        {
            "vendor_id": _ids("v", np.concatenate([np.arange(vendors_n), changed])),
            "account_key": _ids("k", np.concatenate([key, changed + vendors_n])),
            "account_hint": pl.repeat("110 ****0000", vendors_n + changed.size, eager=True),
            "since": _moment(np.concatenate([registered, when])),
            "event": ["Registered"] * vendors_n + ["BankAccountChanged"] * changed.size,
            "version": np.concatenate([np.ones(vendors_n), np.full(changed.size, 2)]).astype(np.int64),
            "position": np.arange(vendors_n + changed.size, dtype=np.int64) + 30_000,
        }
    ).select(list(ACCOUNTS))  # fmt: skip

    # Reconciliation: a run a working day, ~12 exceptions each.
    runs, per = 245, 12
    m = runs * per
    statuses = [
        "unmatched_bank",
        "account_mismatch",
        "timing",
        "fee",
        "returned",
        "unmatched_ledger",
    ]
    matched = rng.choice(n, m)
    exceptions = pl.DataFrame(
        {
            "run_id": _ids("run", np.repeat(np.arange(runs), per)),
            "business_date": pl.date_range(pl.date(YEAR, 1, 2), pl.date(YEAR, 12, 30), "1d", eager=True)
            .head(runs).gather(np.repeat(np.arange(runs), per)),
            "exception_id": _ids("x", np.arange(m)),
            "status": rng.choice(statuses, m, p=[0.1, 0.05, 0.5, 0.15, 0.1, 0.1]),
            "direction": rng.choice(["D", "C"], m), "ledger_id": ids.gather(matched),
            "amount": gross[matched], "reference": _ids("ref", matched),
            "resolution": pl.repeat(None, m, eager=True, dtype=pl.String),
            "version": pl.repeat(1, m, eager=True, dtype=pl.Int64),
            "position": np.repeat(np.arange(runs), per).astype(np.int64) + 10_000_000,
            "detail": pl.repeat("side=bank", m, eager=True, dtype=pl.String),
        }
    ).select(list(EXCEPTIONS))  # fmt: skip
    frames = [payments, steps, vendors, accounts, exceptions]
    schemas = [PAYMENTS, STEPS, VENDORS, ACCOUNTS, EXCEPTIONS]
    cast = [f.cast(dict(s)).lazy() for f, s in zip(frames, schemas, strict=True)]  # type: ignore[arg-type]
    return Frames(PEMDA, "Asia/Jakarta", None, int(n * 6 + 100_000), *cast)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine() -> str:
    cpu = next(
        (x.split(":", 1)[1].strip() for x in Path("/proc/cpuinfo").read_text().splitlines()
         if x.startswith("model name")), "unknown",
    )  # fmt: skip
    memory = next(
        (int(x.split()[1]) / 1024 / 1024 for x in Path("/proc/meminfo").read_text().splitlines()
         if x.startswith("MemTotal")), 0.0,
    )  # fmt: skip
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{os.cpu_count()} CPUs ({cpu}), {memory:.1f} GiB RAM, load {load}; Python "
        f"{platform.python_version()}, Polars {pl.__version__}, {pl.thread_pool_size()} threads"
    )


Timing = tuple[float, float]  # (wall seconds, CPU seconds of the process: every thread)


def timed(work: Callable[[], object]) -> Timing:
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - wall, time.process_time() - cpu


def reference(frames: Frames) -> dict[str, Timing]:
    """What the machine does with the same frames in plain Polars."""
    payments, steps = frames.payments.collect(), frames.steps.collect()

    def csv() -> None:
        buffer = io.BytesIO()
        payments.write_csv(buffer)
        buffer.seek(0)
        pl.read_csv(buffer, try_parse_dates=True)

    at = pl.col("at")
    by_actor = (
        steps.lazy().group_by("actor_id", "event").agg(pl.len(), at.min(), at.max().alias("z"))
    )
    return {
        "payments CSV write+read": timed(csv),
        "steps group_by(actor, event)": timed(by_actor.collect),
    }


def _alone(frames: Frames, limits: thresholds.Thresholds, code: str) -> Timing:
    return timed(lambda: detect(frames, limits, [code]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--payments", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    started = time.perf_counter()
    frames = generate(args.payments, args.seed)
    sizes = {name: getattr(frames, name).select(pl.len()).collect().item()
             for name in ("payments", "steps", "vendors", "accounts", "exceptions")}  # fmt: skip
    print(f"generated in {time.perf_counter() - started:.1f} s: "
          + ", ".join(f"{k} {v:,}" for k, v in sizes.items())
          + f"; peak RSS {peak_rss_mib():,.0f} MiB")  # fmt: skip
    limits = thresholds.defaults()
    detections: list[Detection] = []
    total = timed(lambda: detections.append(detect(frames, limits)))
    [detection] = detections
    # Each rule alone as well, for its CPU seconds (the engine times wall seconds only).
    alone = {code: _alone(frames, limits, code) for code in RULES}
    found = {code: sum(1 for f in detection.flags if f.rule == code) for code in RULES}
    print(f"\nrules registered: {len(RULES)} ({', '.join(RULES)})")
    print(f"{'step':<34}{'wall s':>9}{'CPU s':>9}{'flags':>8}   (CPU s: the rule run alone)")
    print(f"{'materialise the frames (load)':<34}{detection.seconds['load']:>9.3f}")
    for code in RULES:
        print(f"{code:<34}{detection.seconds[code]:>9.3f}{alone[code][1]:>9.3f}{found[code]:>8,}")
    print(f"{'all rules (detect)':<34}{total[0]:>9.3f}{total[1]:>9.3f}{len(detection.flags):>8,}")
    print(f"peak RSS after detecting: {peak_rss_mib():,.0f} MiB; load now {os.getloadavg()[0]:.2f}")
    print("\nreference, same process and frames (ratio: all rules / reference, wall and CPU):")
    for what, (wall, cpu) in reference(frames).items():
        print(
            f"  {what:<32}{wall:>9.3f}{cpu:>9.3f}   ratio {total[0] / wall:.2f} wall, "
            f"{total[1] / cpu:.2f} CPU"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
