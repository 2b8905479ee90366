"""Who can talk to a user now: counselors signed in to the console, and the hours they keep.

* ``Presence(store)``: the console ``touch``es a counselor's row on every authenticated request
  and every live-queue heartbeat (at most every 30 s) and ``leave``s on sign-out; ``online()`` is
  everyone seen within the last 90 seconds. Kept in the case database (table
  ``counselor_presence``), so every Rasa server, action server and console agrees without Redis.
* ``CounselorHours`` (``bot.hours``, read with the settings: ``Settings.hours``): when counselors
  are on duty, and how to say it to a user in Arabic or English.

The actions use both to answer "talk to a person" honestly: a counselor is asked and will join,
or nobody is on duty now and here are the helplines and the hours.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import List, Optional, Tuple

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bot.cases.models import CounselorPresence
from bot.cases.store import CaseStore, CaseStoreError
from bot.hours import CounselorHours

__all__ = ["Presence", "CounselorHours", "Availability", "ONLINE_WITHIN", "MAX_USERNAME_CHARS"]

ONLINE_WITHIN = timedelta(seconds=90)
MAX_USERNAME_CHARS = 64


class Presence:
    """Counselors' last sign of life in the console (see the module docs)."""

    def __init__(self, store: CaseStore):
        self.store = store

    def touch(self, username: str) -> None:
        """``username`` is here now (one upsert, committed)."""
        if not username or len(username) > MAX_USERNAME_CHARS:
            raise ValueError(f"username must be 1-{MAX_USERNAME_CHARS} characters")
        now = self.store._clock()
        self.store._ensure_schema()
        with self.store._guard("presence_touch"), self.store.engine.begin() as conn:
            insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
            statement = insert(CounselorPresence).values(username=username, last_seen=now)
            conn.execute(statement.on_conflict_do_update(index_elements=["username"], set_={"last_seen": now}))

    def leave(self, username: str) -> None:
        """``username`` signed out: no longer counted as online."""
        self.store._ensure_schema()
        with self.store._guard("presence_leave"), self.store.engine.begin() as conn:
            conn.execute(delete(CounselorPresence).where(CounselorPresence.username == username))

    def online(self, within: timedelta = ONLINE_WITHIN) -> List[str]:
        """Usernames seen within ``within``, sorted."""
        cutoff = self.store._clock() - within
        self.store._ensure_schema()
        with self.store._guard("presence_online"), Session(self.store.engine, future=True) as session:
            query = select(CounselorPresence.username).where(CounselorPresence.last_seen >= cutoff)
            return sorted(session.execute(query).scalars())


@dataclass(frozen=True)
class Availability:
    """What a user can be told right now: whether it is within hours, and who is online."""

    in_hours: bool
    online: Tuple[str, ...]

    @property
    def counselor_available(self) -> bool:
        return self.in_hours and bool(self.online)

    @classmethod
    def now(cls, store: Optional[CaseStore], hours: CounselorHours, at: Optional[datetime] = None) -> Availability:
        """Read presence (blocking: call it off the event loop). A failing or missing store means
        nobody is known to be online, so nobody is promised."""
        in_hours = hours.open_at(at)
        online: Tuple[str, ...] = ()
        if store is not None and in_hours:
            try:
                online = tuple(Presence(store).online())
            except CaseStoreError:
                online = ()
        return cls(in_hours, online)
