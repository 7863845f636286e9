"""``kasda verify``, ``kasda checkpoint`` and ``kasda signing-key``."""

from __future__ import annotations

import argparse
import sys

from kasda.export import export_history, verify_export
from kasda.progress import Bar
from kasda.settings import Settings
from ledger.errors import InvalidInput
from ledger.verify import Checkpoint, Report, checkpoint, new_signing_key, signing_key, verify


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "signing-key":
        seed, public = new_signing_key()
        print(f"KASDA_SIGNING_KEY={seed}   # secret: keep it out of the database host")
        print(f"KASDA_VERIFY_KEY={public}   # public: give it to the auditors")
        return 0
    if args.command == "verify" and args.export is not None:
        anchors = [Checkpoint.from_json(path.read_text()) for path in args.anchor]
        bar = Bar("kasda verify --export")
        try:
            report = verify_export(
                args.export, anchors=anchors, trusted_key=settings.verify_key, progress=bar
            )
        finally:
            bar.close()
        return _print(report)
    ledger = settings.open_ledger()
    try:
        if args.command == "export":
            bar = Bar("kasda export")
            try:
                manifest = export_history(ledger, args.out, progress=bar)
            finally:
                bar.close()
            print(
                f"kasda export: {manifest['events']:,} events to {args.out} "
                f"(chain head {manifest['chain_head']})"
            )
            return 0
        if args.command == "checkpoint":
            secret = settings.signing_key
            if not secret:
                raise InvalidInput("set KASDA_SIGNING_KEY (make one with 'kasda signing-key')")
            signed = checkpoint(ledger, signing_key(secret))
            if args.out is not None:
                args.out.write_text(signed.to_json() + "\n")
            print(signed.to_json())
            return 0
        anchors = [Checkpoint.from_json(path.read_text()) for path in args.anchor]
        bar = Bar("kasda verify")
        try:
            report = verify(ledger, anchors=anchors, trusted_key=settings.verify_key, progress=bar)
        finally:
            bar.close()
    finally:
        ledger.close()
    return _print(report)


def _print(report: Report) -> int:
    rate = report.events / report.seconds if report.seconds else 0.0
    if report.problem is not None:
        print(f"kasda verify: FAILED at {report.problem}", file=sys.stderr)
        print(f"  {report.events:,} events verified before it", file=sys.stderr)
        return 1
    print(
        f"kasda verify: OK: {report.events:,} events up to position {report.head_position}, "
        f"{report.checkpoints} signed checkpoint(s); chain head {report.head_hash} "
        f"({report.seconds:.2f} s, {rate:,.0f} events/s)"
    )
    for note in report.notes:
        print(f"  note: {note}")
    return 0
