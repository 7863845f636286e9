"""Read models built from the ledger's notification log (LRA, vendor statements, cash position,
approval queues). Nothing here writes events: projections only read what ``ledger`` recorded.

Until the projection runner lands (issue 4), ``ledger.postings.trial_balance`` recomputes balances
straight from the events.
"""
