"""Red flags: the payments that look like the known schemes, each with the events that prove it.

The engine reads the read models into Polars frames (``audit.frames``), runs every rule
(``audit.rules``) over them with the pemda's thresholds (``audit.thresholds``) and returns flags
(``audit.flags``). A flag is an indication for an inspector, never a verdict: it names the payments,
the figures and the log positions an auditor checks against the hash chain. Recording a run and an
inspector's review are the ledger's business (``ledger.redflags``); this package writes nothing.
"""
