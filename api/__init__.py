"""The HTTP edge (FastAPI, issue 5): thin routes that turn requests into ``ledger.commands`` and
``DomainError`` into RFC 9457 problem documents. The domain never imports from here."""
