"""``kasda gateway-sim``: the Midtrans-compatible simulator as a process on 127.0.0.1."""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys

from gateways.simulator import SIM_KEYS, Faults, Simulator


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sim = sub.add_parser(
        "gateway-sim", help="run the Midtrans-compatible simulator (Snap, Core API, Iris)"
    )
    sim.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    sim.add_argument("--port", type=int, default=8899, help="port (default 8899; 0: any free one)")
    sim.add_argument("--seed", type=int, default=2026, help="same seed, same ids and faults")
    sim.add_argument("--delay", type=float, default=0.0, help="seconds added to every API call")
    sim.add_argument("--error-rate", type=float, default=0.0, help="share of API calls that 503")
    sim.add_argument(
        "--after-error-rate",
        type=float,
        default=0.0,
        help="share of API calls that answer 500 after doing the work",
    )
    sim.add_argument(
        "--hang-seconds", type=float, default=30.0, help="how long a 'hang' fault holds an answer"
    )
    sim.add_argument("--fail-account", action="append", default=[], help="payouts to it fail")
    sim.add_argument(
        "--return-account", action="append", default=[], help="payouts to it come back"
    )
    sim.add_argument(
        "--invalid-account", action="append", default=[], help="account validation refuses it"
    )
    sim.add_argument("--payments-webhook", help="URL for signed payment notifications")
    sim.add_argument("--iris-webhook", help="URL for signed Iris notifications")
    sim.add_argument(
        "--manual-payouts",
        action="store_true",
        help="approved payouts stay 'processed' until POST /sim/payouts/process",
    )


def run(args: argparse.Namespace) -> int:
    if not (0.0 <= args.error_rate <= 1.0 and 0.0 <= args.after_error_rate <= 1.0):
        sys.stderr.write("kasda: error rates must be between 0 and 1\n")
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    faults = Faults(
        delay_seconds=args.delay,
        hang_seconds=args.hang_seconds,
        error_rate=args.error_rate,
        after_error_rate=args.after_error_rate,
        invalid_accounts=set(args.invalid_account),
        fail_accounts=set(args.fail_account),
        return_accounts=set(args.return_account),
    )
    sim = Simulator(
        host=args.host,
        port=args.port,
        seed=args.seed,
        faults=faults,
        instant_payouts=not args.manual_payouts,
    )
    sim.set_webhooks(payments=args.payments_webhook, iris=args.iris_webhook)
    _say(f"gateway simulator on {sim.url}")
    _say(f"  KASDA_MIDTRANS_CORE_URL={sim.url}")
    _say(f"  KASDA_MIDTRANS_SNAP_URL={sim.url}/snap/v1")
    _say(f"  KASDA_IRIS_URL={sim.url}/iris")
    _say(f"  KASDA_MIDTRANS_SERVER_KEY={SIM_KEYS.server_key}")
    _say(f"  KASDA_IRIS_CREATOR_KEY={SIM_KEYS.creator_key}")
    _say(f"  KASDA_IRIS_APPROVER_KEY={SIM_KEYS.approver_key}")
    _say(f"  KASDA_IRIS_MERCHANT_KEY={SIM_KEYS.merchant_key}")
    _say("  pay: POST /sim/pay/{order_id}; faults: POST /sim/faults; files: GET /sim/reports/...")
    sys.stdout.flush()
    with contextlib.suppress(KeyboardInterrupt):
        sim.serve_forever()
    return 0


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
