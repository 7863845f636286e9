"""``Stamp``: who did something, in which role, and when. Every event records one.

A handler makes one stamp per command (the actor who sent it and the ledger clock's moment) and hands
it to every aggregate the command changes; an aggregate's command method hands it on to the event it
triggers. Events store it flattened, as the three attributes they have always stored (``actor_id``,
``actor_role``, ``at``): the bodies already in stores and exports, the hash chain over them, the read
models and the history all read those names, so they never change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ledger.roles import Actor


@dataclass(frozen=True, slots=True)
class Stamp:
    actor: Actor  # who, and in which role (and for which SKPD, which events do not record)
    at: datetime  # when, by the ledger's clock: never the sender's

    @property
    def who(self) -> str:
        return self.actor.user_id

    @property
    def role(self) -> str:
        return self.actor.role.value

    def recorded(self) -> dict[str, Any]:
        """The stamp as an event's attributes: what each private ``@event`` method takes last."""
        return {"actor_id": self.actor.user_id, "actor_role": self.actor.role.value, "at": self.at}
