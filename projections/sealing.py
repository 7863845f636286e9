"""Encryption at rest for the read models.

When the ledger encrypts event bodies (``KASDA_CIPHER_KEY``), the read models sit in the same
database file or schema, so they must not undo that: every column that identifies a person, a firm
or an account is sealed with AES-GCM under a key derived from the ledger's, and the NPWP a vendor
statement is looked up by is stored as a keyed hash (HMAC-SHA256), never in clear. Amounts, codes
and dates stay plain: reports sum and sort them in SQL.

Without a key every function is the identity, so a plain store reads as before.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from base64 import b64decode, b64encode
from collections.abc import Iterable, Sequence
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ledger.application import Ledger

_PREFIX = "aesgcm:"

# Every read-model column that is sealed, by name (the same name seals in every table). The models
# seal them as they write; ``Sealer.opened`` is the one place they are opened again.
SEALED = frozenset(
    {
        "name", "npwp_sealed", "account_number", "account_holder", "description", "documents",
        "payer", "reason", "detail",
    }
)  # fmt: skip


def _derive(key: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(key)


class Sealer:
    def __init__(self, ledger: Ledger) -> None:
        cipher: Any = ledger.mapper.cipher
        key: bytes | None = getattr(cipher, "key", None) if cipher is not None else None
        self.on = key is not None
        if key is not None:
            self._aead = AESGCM(_derive(key, b"kasda read models: columns"))
            self._index_key = _derive(key, b"kasda read models: lookup")

    def seal(self, text: str | None) -> str | None:
        if not self.on or text is None:
            return text
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, text.encode(), None)
        return _PREFIX + b64encode(nonce + sealed).decode()

    def _open(self, value: Any) -> Any:
        if not self.on or not isinstance(value, str) or not value.startswith(_PREFIX):
            return value
        raw = b64decode(value[len(_PREFIX) :])
        return self._aead.decrypt(raw[:12], raw[12:], None).decode()

    def opened(self, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[dict[str, Any]]:
        """``rows`` as dicts by ``columns``, every sealed column (``SEALED``) opened: how the
        read side gets its rows out of the models."""
        sealed = [c in SEALED for c in columns]
        return [
            {c: self._open(v) if s else v for c, s, v in zip(columns, sealed, row, strict=True)}
            for row in rows
        ]

    def key_for(self, purpose: bytes) -> bytes:
        """A key for ``purpose`` derived from the ledger's (the purpose itself without one: with no
        encryption at rest the read models hold the clear text anyway)."""
        return _derive(self._index_key, purpose) if self.on else purpose

    def index(self, text: str) -> str:
        """What a sealed key column stores and is searched by: equal texts, equal indexes."""
        if not self.on:
            return text
        return hmac.new(self._index_key, text.encode(), hashlib.sha256).hexdigest()
