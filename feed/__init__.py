"""kasda's event feed for the pemda's other systems (docs/feed.md): CloudEvents of the public part
of each event, pushed to subscribers as signed webhooks by a dispatcher, or pulled by position.

``settings`` (its knobs), ``signing`` (secrets, pull tokens, signatures), ``events`` (CloudEvents),
``delivery`` (cursor, attempts, dead letters, the dispatcher's lease), ``dispatcher`` (the loop that
posts). The subscriptions are ledger facts (``ledger.feed``) and the feed a read model
(``projections.feed``): the feed reads the read models only, never the ledger's write path.
"""
