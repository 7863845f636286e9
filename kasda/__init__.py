"""kasda: the command line and the wiring of the ledger, its projections and adapters."""
