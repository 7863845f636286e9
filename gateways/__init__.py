"""Adapters to the world outside the ledger: Midtrans (Iris payouts, Snap/Core API receipts), the BPD's
bank bulk-transfer files, signed webhooks, and a Midtrans-compatible simulator for tests and the demo.
The domain (``ledger``) never imports from here; these adapters turn gateway facts into ledger commands."""
