"""kasda's web application: server-rendered pages (Jinja2, htmx) for each of kasda's people, in the
same process as the API and on the same services: reads through the read models
(``projections/queries.py`` via ``api.readmodels.ReadModels``), writes through the same ledger
commands and ``api.writer.BatchWriter`` as ``api/routes/``. ``api.app.create_app`` mounts it
(``web.app.install``). How it is organised and how to add a page: docs/web.md."""
