"""Support for the tests and the benchmarks, never for the product.

- ``world``           the small world they play in, defined once: pemda, year, SKPD, lines, vendors
- ``clock``           a ledger clock that starts on the first working morning of that year
- ``api``             settings, tokens and the HTTP calls that build the world through the API
- ``reconciliation``  synthetic RKUD statements and gateway reports with every difference planted

No module of ``ledger``, ``projections``, ``api``, ``gateways`` or ``reconciliation`` imports it,
and ``pip install`` does not ship it (``tests/test_scaffolding_stays_out.py``): tests and
benchmarks import it from the source tree.
"""
