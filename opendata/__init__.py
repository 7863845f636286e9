"""Open data (issue 18, part 2): a pemda's public facts of a year as files anyone may download
without signing in, at ``/publik/data/`` (``web/pages/opendata.py``), documented in
docs/opendata.md.

What is public is decided in one place, ``projections.public`` (final payments only, nothing
private); this package only renders its frames, as pure functions from frames to bytes:

- ``dictionary``: the datasets and their columns (name, type, meaning in Indonesian, unit): the
  index page's data dictionary and ``kamus.json`` (a Frictionless-style data package);
- ``render``: CSV (UTF-8, a header), JSON (metadata and rows), Parquet (Polars);
- ``ocds``: the payments as an Open Contracting Data Standard 1.1 release package; the official
  schemas it is tested against ship beside it (``ocds_schema/``);
- ``cache``: the ETag of a rendition (dataset, pemda, year and the read models' log position) and
  a bounded in-process cache of renditions.

It imports no web framework: the routes are thin, and a command-line export could reuse it.
"""
