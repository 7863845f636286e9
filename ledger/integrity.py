"""Tamper evidence: a hash chain over the whole application sequence.

Every stored event gets a digest of exactly what is stored (aggregate id, version, topic and the
stored bytes, encrypted or not); the chain hash at each position commits to the previous chain hash,
the position and that digest:

    digest(e)  = sha256(originator_id[16] | version[8, big-endian] | topic | 0x00 | state)
    chain(p_i) = sha256(chain(p_{i-1}) | p_i[8, big-endian] | digest(e_i)),   chain(p_0) = 32 zero bytes

The chain is written in the same transaction as the events (``ledger.chained`` recorders), so every
event commits to all before it. Altering, deleting, inserting or reordering rows breaks a link;
rewriting the chain table too is caught by a signed checkpoint of its head kept outside the database.
"""

from __future__ import annotations

import hashlib
import struct
from uuid import UUID

GENESIS = bytes(32)
_PACK = struct.Struct(">Q")


def event_digest(
    originator_id: UUID | str, version: int, topic: str | bytes, state: bytes
) -> bytes:
    aggregate = originator_id if isinstance(originator_id, UUID) else UUID(str(originator_id))
    return raw_digest(
        aggregate.bytes, version, topic.encode() if isinstance(topic, str) else topic, state
    )


def raw_digest(aggregate: bytes, version: int, topic: bytes, state: bytes) -> bytes:
    """``event_digest`` from raw parts (16-byte id, topic bytes): the verifier's hot path."""
    return hashlib.sha256(
        b"".join((aggregate, _PACK.pack(version), topic, b"\x00", state))
    ).digest()


def chain_next(previous: bytes, position: int, digest: bytes) -> bytes:
    return hashlib.sha256(previous + _PACK.pack(position) + digest).digest()
