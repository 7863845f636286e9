"""kasda ledger: the domain of regional-treasury spending, written as immutable events.

How a payment flows through this package:

- ``commands``      what a user asks for (request an SPP, verify, approve the SPM, authorise the SP2D, ...)
- ``handlers``      one function per command (``@handles``, with what it reads): parses, loads, checks the
                    rules that span aggregates, calls the aggregates' command methods
- ``budget``, ``vendor``, ``disbursement``, ``revenue``, ``reconciliation``  the aggregates: each command
                    method checks the aggregate's own rules, then triggers a private ``@event`` (the fact)
- ``stamp``         ``Stamp``: who, in which role and when, recorded in every event
- ``receipts``      the idempotency receipt written with every command's effects
- ``application``   ``Ledger``, the only door to the event store (single commands, batches)
- ``unit_of_work``, ``bulk_reads``, ``retry``  a batch's unit of work, its bulk reads (SQL per store),
                    and when a batch that lost a race runs again
- ``invariants``    assertions on every write before it commits (entries balance, amounts within limits)
- ``postings``      the double-entry view of every money event
"""
