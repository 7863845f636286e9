"""kasda ledger: the domain of regional-treasury spending, written as immutable events.

How a payment flows through this package:

- ``commands``      what a user asks for (request an SPP, verify, approve the SPM, authorise the SP2D, ...)
- ``handlers``      one function per command: loads aggregates, checks the rules that span them, applies
- ``budget``, ``vendor``, ``disbursement``  the aggregates; their ``@event`` methods are the facts
- ``receipts``      the idempotency receipt written with every command's effects
- ``application``   ``Ledger``, the only door to the event store (single commands, batches, retries)
- ``postings``      the double-entry view of every money event
"""
