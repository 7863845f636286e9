"""Helpers shared by the gateway tests (no tests here): a ledger with authorised SP2D, and clients
pointed at an in-process simulator."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from uuid import UUID

import uvicorn
from fastapi import FastAPI

from api.webhooks import router
from gateways.config import GatewaySettings
from gateways.iris import IrisClient
from gateways.port import ReceiptOrder
from gateways.simulator import SIM_KEYS, Simulator
from ledger import commands as c
from ledger.application import Ledger
from ledger.disbursement import Disbursement
from testkit.clock import FixedClock
from testkit.world import INCOME
from tests import factory as f

VENDOR_B_NPWP = "02.345.678.9-012.000"


def new_ledger(url: str = "memory://") -> Ledger:
    return Ledger(url, clock=FixedClock())


def ledger_with_vendors(url: str = "memory://") -> Ledger:
    ledger = new_ledger(url)
    f.adopt(ledger)
    f.register_vendor(ledger)
    f.register_vendor(ledger, npwp=VENDOR_B_NPWP, name="CV Sinar Grafika", account="0098765432")
    return ledger


def authorise(
    ledger: Ledger, spp: str, gross: int = 100_000_000, npwp: str = f.NPWP
) -> Disbursement:
    for command in (
        f.request(spp, gross, npwp=npwp),
        f.verify(spp),
        f.approve(spp),
        f.authorise(spp),
    ):
        ledger.execute(command)
    return ledger.disbursement(f.disbursement_id(spp))


def iris_client(sim: Simulator, timeout: float = 2.0) -> IrisClient:
    return IrisClient(
        sim.url + "/iris",
        SIM_KEYS.creator_key,
        SIM_KEYS.approver_key,
        timeout_seconds=timeout,
    )


def status_of(ledger: Ledger, spp: str) -> str:
    return str(ledger.disbursement(f.disbursement_id(spp)).status)


def did(spp: str) -> UUID:
    return f.disbursement_id(spp)


INCOME_LINE = c.LineSpec(
    skpd="5.02.0.00.0.00.01.0000",  # Bapenda
    sub_kegiatan=None,
    rekening=INCOME,  # Pajak Hotel
    uraian="Pajak Hotel",
    pagu=5_000_000_000,
)


def ledger_with_income(url: str = "memory://") -> Ledger:
    ledger = new_ledger(url)
    f.adopt(ledger, f.MEDIA_LINE, f.GOODS_LINE, INCOME_LINE)
    f.register_vendor(ledger)
    f.register_vendor(ledger, npwp=VENDOR_B_NPWP, name="CV Sinar Grafika", account="0098765432")
    return ledger


def receipt_order(
    order_id: str, amount: int = 250_000, payer: str = "Hotel Savoy Homann"
) -> ReceiptOrder:
    return ReceiptOrder(
        order_id=order_id,
        amount=amount,
        payer=payer,
        pemda=f.PEMDA,
        year=f.YEAR,
        skpd=INCOME_LINE.skpd,
        sub_kegiatan=INCOME_LINE.sub_kegiatan,
        rekening=INCOME_LINE.rekening,
    )


def webhook_app(ledger: Ledger, settings: GatewaySettings) -> FastAPI:
    app = FastAPI()
    app.include_router(router)
    app.state.ledger = ledger
    app.state.gateway_settings = settings
    return app


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Run ``app`` under uvicorn on 127.0.0.1 (a free port) in a thread; yields its base URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
