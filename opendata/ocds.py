"""The public payments as an Open Contracting Data Standard 1.1 release package
(https://standard.open-contracting.org/1.1/en/schema/release_package/), one release per payment.

kasda records payments, not procurement: a release says what kasda knows of one contracting
process, the payment made under it. The mapping (docs/opendata.md has it as a table):

- ``ocid``: ``{prefix}-{pemda}-{payment id}``. The prefix is ``KASDA_OCDS_PREFIX``; the default
  ``ocds-kasda`` is NOT a registered prefix: a pemda that publishes OCDS must register its own with
  the Open Contracting Partnership and set it.
- ``id``: ``{payment id}-{digest}``, the digest of the release's content: the same facts are the
  same release, and a payment that changes (paid, returned) is a new release of its ocid.
- ``date``: the day the payment was paid, else the day its SP2D was authorised, at 00:00 WIB (the
  public facts carry days, not times). ``tag``: award, contract, implementation.
  ``initiationType``: tender (the only value OCDS 1.1 has).
- ``parties``: the pemda (buyer, payer), its SKPD (procuringEntity) and the payee (supplier,
  payee) by name only: no NPWP, no account, a person by initials (``projections.public``).
- ``buyer``: the pemda. ``planning.budget``: the budget line (SKPD / sub kegiatan / rekening).
- ``awards[0]``: the supplier; ``contracts[0]``: the purpose as title, the status in Indonesian as
  description, and in ``implementation.transactions[0]`` the SP2D: ``id`` its number, ``date``,
  ``value`` (integer rupiah, IDR), ``payer`` and ``payee``.

``release_package`` builds the package as plain data; the tests validate it against the official
schemas shipped in ``ocds_schema/`` (version 1.1.5, see its README).
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import polars as pl

from opendata.render import Meta, rows
from projections.public import STATUS_LABEL

VERSION = "1.1"
CURRENCY = "IDR"
TAGS = ("award", "contract", "implementation")
WIB = ZoneInfo("Asia/Jakarta")
SCHEMA_DIR = "ocds_schema"  # package data: the official release and release package schemas
PAYEE = "penerima"


def pemda_party(pemda: str) -> dict[str, str]:
    return {"id": f"pemda-{pemda}", "name": f"Pemerintah Daerah {pemda}"}


def release_package(frame: pl.DataFrame, meta: Meta, *, prefix: str, uri: str) -> dict[str, Any]:
    """The payments of ``frame`` (``projections.public.PAYMENT_SCHEMA``) as a release package
    published at ``uri``. OCDS requires at least one release: ``frame`` must not be empty."""
    assert frame.height > 0, "an OCDS release package has at least one release"
    releases = [release(row, meta.pemda, prefix) for row in rows(frame)]
    return {
        "uri": uri,
        "version": VERSION,
        # Generated on demand: the date of the last change to what the package holds.
        "publishedDate": max(r["date"] for r in releases),
        "publisher": {"name": pemda_party(meta.pemda)["name"]},
        "releases": releases,
    }


def release(row: dict[str, Any], pemda: str, prefix: str) -> dict[str, Any]:
    """One payment (a row of ``PAYMENT_SCHEMA``, dates as ISO text) as one release."""
    payer = pemda_party(pemda)
    skpd = {"id": f"skpd-{row['skpd']}", "name": row["skpd_nama"] or f"SKPD {row['skpd']}"}
    payee = {"id": PAYEE, "name": row["penerima"]}
    day = release_date(row["tanggal_bayar"] or row["tanggal_sp2d"])
    content = {
        "ocid": f"{prefix}-{pemda}-{row['id']}",
        "date": day,
        "tag": list(TAGS),
        "initiationType": "tender",
        "parties": [
            {**payer, "roles": ["buyer", "payer"]},
            {**skpd, "roles": ["procuringEntity"]},
            {**payee, "roles": ["supplier", "payee"]},
        ],
        "buyer": payer,
        "planning": {
            "budget": {
                "id": f"{row['skpd']}/{row['sub_kegiatan']}/{row['rekening']}",
                "description": row["uraian_rekening"],
                "project": row["sub_kegiatan_nama"],
                "projectID": row["sub_kegiatan"],
            }
        },
        "awards": [{"id": row["id"], "status": "active", "suppliers": [payee]}],
        "contracts": [
            {
                "id": row["id"],
                "awardID": row["id"],
                "title": row["keperluan"],
                "description": f"Status: {STATUS_LABEL[row['status']]}",
                "implementation": {
                    "transactions": [
                        {
                            "id": row["sp2d_number"],
                            "date": day,
                            "value": {"amount": row["jumlah"], "currency": CURRENCY},
                            "payer": payer,
                            "payee": payee,
                        }
                    ]
                },
            }
        ],
    }
    digest = hashlib.sha256(orjson.dumps(content, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return {"id": f"{row['id']}-{digest[:16]}", **content}


def release_date(day: str) -> str:
    """A public fact's day as an OCDS date-time: its start in WIB."""
    return datetime.combine(date.fromisoformat(day), time(), WIB).isoformat()


def to_json(frame: pl.DataFrame, meta: Meta, *, prefix: str, uri: str) -> bytes:
    return orjson.dumps(release_package(frame, meta, prefix=prefix, uri=uri))
