"""Encryption at rest of event bodies (``KASDA_CIPHER_KEY``), with the library's AES-GCM cipher.

Only each event's body (``state``) is encrypted; its aggregate id, version, topic and position stay
readable, so the store can still order, index and hash-chain events without the key.
"""

from __future__ import annotations

import binascii
from base64 import b64decode

from eventsourcing.cryptography import AESCipher

from ledger.errors import InvalidInput

KEY_VARIABLE = "KASDA_CIPHER_KEY"


class UndecryptableEvent(ValueError):
    """A stored event body that the configured key cannot decrypt. The library's mapper wraps it
    in a ``MapperDeserialisationError`` naming the event."""


class LedgerCipher(AESCipher):
    """``AESCipher`` whose failure to decrypt says what is probably wrong."""

    def decrypt(self, ciphertext: bytes) -> bytes:
        try:
            return super().decrypt(ciphertext)
        except ValueError as error:
            raise UndecryptableEvent(
                f"cannot decrypt a stored event: {KEY_VARIABLE} is not the key this store was "
                "written with (or the store was written without encryption, or the event is damaged)"
            ) from error


def new_key() -> str:
    """A fresh 256-bit key, base64-encoded, as ``KASDA_CIPHER_KEY`` expects."""
    return AESCipher.create_key(32)


def cipher_env(key: str | None, persistence_module: str = "") -> dict[str, str]:
    """The ``eventsourcing`` settings that encrypt event bodies with ``key`` (none if no key)."""
    if key is None or not key.strip():
        return {}
    key = key.strip()
    try:
        raw = b64decode(key, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput(
            f"{KEY_VARIABLE} is not valid base64; make a key with `kasda keygen`"
        ) from None
    if len(raw) not in AESCipher.KEY_SIZES:
        raise InvalidInput(
            f"{KEY_VARIABLE} decodes to {len(raw)} bytes; an AES key has 16, 24 or 32 "
            "(make one with `kasda keygen`)"
        )
    settings = {"CIPHER_TOPIC": "ledger.cipher:LedgerCipher", "CIPHER_KEY": key}
    if persistence_module.endswith("postgres"):
        # PostgreSQL receives bodies escaped as text inside the library's composite array, and
        # random ciphertext escapes badly: compressing first (ciphertext does not compress) halves
        # the bytes sent. On SQLite the zlib time is a pure cost (measured: 8% -> 20% of writes).
        settings["COMPRESSOR_TOPIC"] = "eventsourcing.compressor:ZlibCompressor"
    return settings
