"""What a simulated product answers: a status and a JSON body (or a file), or an ``ApiError``.
The products speak Midtrans's status codes and bodies; ``gateways.simulator.app`` puts them on
the wire."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class ApiError(Exception):
    """A refusal, answered as ``status`` with ``body`` (Midtrans's error shape of the product)."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: Any
    text: str | None = None  # a file (CSV, MT940) instead of JSON
