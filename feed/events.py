"""The feed's events as CloudEvents 1.0, structured JSON mode (``application/cloudevents+json``).

``id`` is ``<pemda>:<position>``: stable, the same on every attempt, in push and in pull, so a
receiver drops a repeat by it. ``type`` is ``id.go.kasda.<aggregate>.<event>`` in snake case
(``id.go.kasda.disbursement.settled``, ``id.go.kasda.budget_line.realised``), ``source``
``urn:kasda:pemda:<pemda>``, ``subject`` the aggregate's id, ``time`` when the ledger recorded it;
the extension attributes ``kasdaposition`` (the log position, the pull cursor) and ``kasdaversion``
(the aggregate's version: per subject, events come in this order).
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from projections.feed_queries import FeedEvent

CONTENT_TYPE = "application/cloudevents+json"
BATCH_CONTENT_TYPE = "application/cloudevents-batch+json"
TYPE_PREFIX = "id.go.kasda."
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def event_type(kind: str) -> str:
    """``Disbursement.Settled`` -> ``id.go.kasda.disbursement.settled``."""
    aggregate, _, name = kind.partition(".")
    return TYPE_PREFIX + ".".join(_CAMEL.sub("_", part).lower() for part in (aggregate, name))


def source(pemda: str) -> str:
    return f"urn:kasda:pemda:{pemda}"


def _rfc3339(stamp: str) -> str:
    return stamp.replace("+00:00", "Z")


def cloud_event(event: FeedEvent) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": f"{event.pemda}:{event.position}",
        "source": source(event.pemda),
        "type": event_type(event.kind),
        "subject": event.aggregate_id,
        "time": _rfc3339(event.at),
        "datacontenttype": "application/json",
        "kasdaposition": event.position,
        "kasdaversion": event.version,
        "data": event.data,
    }


def body(event: FeedEvent) -> bytes:
    """The exact bytes posted (and signed): one CloudEvent, keys sorted."""
    return orjson.dumps(cloud_event(event), option=orjson.OPT_SORT_KEYS)
