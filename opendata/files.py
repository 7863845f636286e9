"""One open-data file, from a request's parameters to its bytes: the parameters checked, the read
models read (never the ledger's store), the file rendered, or found in ``Renditions``, or not
needed at all when the client holds the current version (``If-None-Match``).

``produce`` runs in a worker thread with one connection to the read models; what it costs when
nothing changed is one indexed read of the position.
"""

from __future__ import annotations

import re
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import polars as pl

from ledger.errors import InvalidInput, NotFound
from ledger.fields import pemda_code
from opendata import ocds, render
from opendata.cache import MAKING_WAIT, Rendition, Renditions, etag, not_modified
from opendata.dictionary import DATASETS, Dataset
from projections import public
from projections import queries as q
from projections.db import ReadDatabase
from projections.runner import gc_paused

WIB = ZoneInfo("Asia/Jakarta")
_YEAR = re.compile(r"[0-9]{4}")


@dataclass(frozen=True, slots=True)
class Wanted:
    """A checked request for one file."""

    dataset: Dataset
    pemda: str
    year: int

    @classmethod
    def parse(cls, file: str, pemda: str | None, tahun: str | None) -> Wanted:
        """``NotFound`` for a file that is not a dataset, ``InvalidInput`` for a pemda that is not
        a Kemendagri code or a year that is not one of four digits (in Indonesian)."""
        dataset = DATASETS.get(file)
        if dataset is None:
            raise NotFound(f"tidak ada berkas data {file!r}; lihat /publik/data/")
        return cls(dataset, checked_pemda(pemda), checked_year(tahun))

    @property
    def filename(self) -> str:
        stem, _, extension = self.dataset.file.rpartition(".")
        return f"kasda-{stem}-{self.pemda.replace('.', '')}-{self.year}.{extension}"


def checked_pemda(pemda: str | None) -> str:
    if not pemda:
        raise InvalidInput("parameter pemda wajib diisi, mis. pemda=32.73")
    try:
        return pemda_code(pemda)
    except InvalidInput:
        raise InvalidInput("pemda harus kode wilayah Kemendagri seperti 32 atau 32.73") from None


def checked_year(tahun: str | None) -> int:
    if not tahun:
        raise InvalidInput("parameter tahun wajib diisi, mis. tahun=2026")
    if not _YEAR.fullmatch(tahun):
        raise InvalidInput("tahun harus empat angka, mis. 2026")
    return int(tahun)


@dataclass(frozen=True, slots=True)
class Context:
    """What a file needs besides its request: the store it is read from (a key of the cache),
    the cache, where kasda is reached (the files' own URLs) and the OCDS prefix."""

    store: Hashable
    renditions: Renditions
    base_url: str
    ocds_prefix: str

    def url(self, wanted: Wanted) -> str:
        return (f"{self.base_url}/publik/data/{wanted.dataset.file}"
                f"?pemda={wanted.pemda}&tahun={wanted.year}")  # fmt: skip


@dataclass(frozen=True, slots=True)
class Produced:
    """A file's version, and its bytes unless the client holds that version already."""

    etag: str
    position: int
    body: bytes | None


def produce(
    db: ReadDatabase, wanted: Wanted, context: Context, if_none_match: str | None = None
) -> Produced:
    at = q.position(db)
    tag = etag(wanted.dataset.file, wanted.pemda, wanted.year, at)
    if not_modified(if_none_match, tag):
        return Produced(tag, at, None)
    key = (context.store, wanted.dataset.file, wanted.pemda, wanted.year)
    found = context.renditions.get((*key, at))
    if found is None:
        making = context.renditions.making((*key, at))
        # Bounded: past it, render without waiting for the other request's rendering.
        waited = making.acquire(timeout=MAKING_WAIT)
        try:
            found = context.renditions.get((*key, at)) or render_file(db, wanted, context)
            context.renditions.put((*key, found.position), found)
        finally:
            if waited:
                making.release()
    return Produced(etag(*key[1:], found.position), found.position, found.body)


def render_file(db: ReadDatabase, wanted: Wanted, context: Context) -> Rendition:
    """The file now: ``NotFound`` if the pemda has no budget for the year (or, for OCDS, no
    final payment yet: a release package has at least one release)."""
    if wanted.year not in public.years(db, wanted.pemda):
        raise NotFound(f"tidak ada APBD pemda {wanted.pemda} tahun {wanted.year} di sini")
    file = wanted.dataset.file
    read = public.budget_lines if file == "lra.csv" else public.payments
    # Thousands of short-lived dicts and no cycles (ocds.json: 33 ms, but 134 ms at p95 with the
    # collector scanning the server's heap meanwhile).
    with gc_paused():
        found = read(db, wanted.pemda, wanted.year)
        meta = render.Meta(wanted.pemda, wanted.year, found.position, datetime.now(WIB), file,
                           f"{context.base_url}/publik/data/kamus.json")  # fmt: skip
        return Rendition(_bytes(found.frame, meta, wanted, context), found.position)


def _bytes(frame: pl.DataFrame, meta: render.Meta, wanted: Wanted, context: Context) -> bytes:
    kind = wanted.dataset.format
    if kind == "csv":
        return render.to_csv(frame)
    if kind == "parquet":
        return render.to_parquet(frame, meta)
    if wanted.dataset.file == "ocds.json":
        if frame.height == 0:
            raise NotFound(f"belum ada pembayaran final pemda {wanted.pemda} tahun "
                           f"{wanted.year}: paket OCDS memerlukan paling sedikit satu rilis")  # fmt: skip
        return ocds.to_json(frame, meta, prefix=context.ocds_prefix, uri=context.url(wanted))
    return render.to_json(frame, meta)
