"""Nightly matching of the RKUD bank statement and gateway settlement reports against the ledger, in
Polars (issue 7). It reads ledger facts (SP2D numbers, net amounts, beneficiary accounts); it never
changes them."""
