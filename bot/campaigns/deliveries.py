"""The delivery rows (one per broadcast and recipient: the idempotency key) and the poll counts,
as part of ``CampaignStore`` (``bot.campaigns.store``)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Dict, List, Optional, Sequence, Tuple

from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection

from bot.campaigns.models import DELIVERY_STATES, UNFINISHED_STATES, Delivery, PollCount, Subscriber
from bot.campaigns.records import subscriber_info
from bot.cases.models import utcnow

__all__ = ["DeliveryRecords"]


class DeliveryRecords:
    """Methods of ``CampaignStore`` on ``campaign_deliveries`` and ``campaign_poll_counts``."""

    def _tx(self) -> AbstractContextManager[Connection]:
        raise NotImplementedError

    def _insert(self, conn: Connection, model: Any) -> Any:
        raise NotImplementedError

    # --- deliveries --------------------------------------------------------------------------

    def add_deliveries(self, broadcast_id: str, sender_ids: Sequence[str]) -> None:
        """One queued row per recipient; rows that exist already are left as they are."""
        if not sender_ids:
            return
        now = utcnow()
        with self._tx() as conn:
            statement = self._insert(conn, Delivery).on_conflict_do_nothing(
                index_elements=["broadcast_id", "sender_id"]
            )
            conn.execute(
                statement,
                [dict(broadcast_id=broadcast_id, sender_id=s, state="queued", updated_at=now) for s in sender_ids],
            )

    def claim(self, broadcast_id: str, sender_id: str, signature: Optional[str] = None) -> bool:
        """queued/held → sending, signed (``w:<worker id>:<how>``, in ``reason``); True for exactly one caller."""
        with self._tx() as conn:
            return bool(
                conn.execute(
                    update(Delivery)
                    .where(
                        Delivery.broadcast_id == broadcast_id,
                        Delivery.sender_id == sender_id,
                        Delivery.state.in_(("queued", "held")),
                    )
                    .values(state="sending", reason=signature, updated_at=utcnow())
                ).rowcount
            )

    def mark(
        self,
        broadcast_id: str,
        sender_id: str,
        state: str,
        reason: Optional[str] = None,
        provider_id: Optional[str] = None,
        only_from: Sequence[str] = (),
    ) -> bool:
        query = update(Delivery).where(Delivery.broadcast_id == broadcast_id, Delivery.sender_id == sender_id)
        if only_from:
            query = query.where(Delivery.state.in_(tuple(only_from)))
        values: Dict[str, Any] = dict(state=state, reason=reason, updated_at=utcnow())
        if provider_id:
            values["provider_id"] = provider_id
        with self._tx() as conn:
            return bool(conn.execute(query.values(**values)).rowcount)

    def delivery_state(self, broadcast_id: str, sender_id: str) -> Optional[str]:
        found = self.delivery(broadcast_id, sender_id)
        return found[0] if found else None

    def recipient(
        self, broadcast_id: str, sender_id: str
    ) -> Optional[Tuple[str, datetime, Optional[Any], Optional[str]]]:
        """(delivery state, when it changed, the subscriber or None, the reason or a sending row's
        signature) in one query, for the sender."""
        with self._tx() as conn:
            row = conn.execute(
                select(
                    Delivery.state.label("delivery_state"),
                    Delivery.updated_at.label("delivery_changed"),
                    Delivery.reason.label("delivery_reason"),
                    Subscriber,
                )
                .outerjoin(Subscriber, Subscriber.sender_id == Delivery.sender_id)
                .where(Delivery.broadcast_id == broadcast_id, Delivery.sender_id == sender_id)
            ).first()
        if row is None:
            return None
        found = subscriber_info(row) if row.channel is not None else None
        return str(row.delivery_state), row.delivery_changed, found, row.delivery_reason

    def recipients(
        self, broadcast_id: str, sender_ids: Sequence[str]
    ) -> Dict[str, Tuple[str, datetime, Optional[Any], Optional[str]]]:
        """``recipient`` for a whole batch in one query (a worker's job of ``BATCH`` recipients)."""
        if not sender_ids:
            return {}
        with self._tx() as conn:
            rows = conn.execute(
                select(
                    Delivery.sender_id.label("delivery_sender"),
                    Delivery.state.label("delivery_state"),
                    Delivery.updated_at.label("delivery_changed"),
                    Delivery.reason.label("delivery_reason"),
                    Subscriber,
                )
                .outerjoin(Subscriber, Subscriber.sender_id == Delivery.sender_id)
                .where(Delivery.broadcast_id == broadcast_id, Delivery.sender_id.in_(list(sender_ids)))
            ).all()
        return {
            str(row.delivery_sender): (
                str(row.delivery_state),
                row.delivery_changed,
                subscriber_info(row) if row.channel is not None else None,
                row.delivery_reason,
            )
            for row in rows
        }

    def mark_sent(self, broadcast_id: str, sent: Sequence[Tuple[str, Optional[str]]]) -> List[str]:
        """sending → sent for each (sender id, provider's id), in one transaction; the sender ids
        whose row this call moved (a row resolved meanwhile by another worker is left alone)."""
        moved: List[str] = []
        now = utcnow()
        with self._tx() as conn:
            for sender_id, provider_id in sent:
                values: Dict[str, Any] = dict(state="sent", reason=None, updated_at=now)
                if provider_id:
                    values["provider_id"] = provider_id
                query = update(Delivery).where(
                    Delivery.broadcast_id == broadcast_id, Delivery.sender_id == sender_id, Delivery.state == "sending"
                )
                if conn.execute(query.values(**values)).rowcount:
                    moved.append(sender_id)
        return moved

    def delivery(self, broadcast_id: str, sender_id: str) -> Optional[Tuple[str, datetime]]:
        """(state, when it last changed), or None when there is no such row."""
        with self._tx() as conn:
            row = conn.execute(
                select(Delivery.state, Delivery.updated_at).where(
                    Delivery.broadcast_id == broadcast_id, Delivery.sender_id == sender_id
                )
            ).first()
        return (str(row.state), row.updated_at) if row is not None else None

    def status_callback(self, provider_id: str, state: str, reason: Optional[str] = None) -> Optional[Tuple[str, str]]:
        """A provider's status for the message it numbered ``provider_id``; (sender id, broadcast id)."""
        with self._tx() as conn:
            row = conn.execute(
                select(Delivery.id, Delivery.sender_id, Delivery.broadcast_id).where(
                    Delivery.provider_id == provider_id
                )
            ).first()
            if row is None:
                return None
            conn.execute(
                update(Delivery).where(Delivery.id == row.id).values(state=state, reason=reason, updated_at=utcnow())
            )
            return str(row.sender_id), str(row.broadcast_id)

    def progress(self, broadcast_id: str) -> Dict[str, int]:
        """Counts by delivery state (every state present, zeros included) and the total."""
        with self._tx() as conn:
            rows = conn.execute(
                select(Delivery.state, func.count())
                .where(Delivery.broadcast_id == broadcast_id)
                .group_by(Delivery.state)
            )
            counts = {state: 0 for state in DELIVERY_STATES}
            counts.update({r[0]: int(r[1]) for r in rows})
        counts["total"] = sum(counts.values())
        return counts

    def unfinished(self, broadcast_id: str) -> bool:
        """True while any recipient is still queued, held or sending (the broadcast is not done):
        the first such row found in ``ix_campaign_deliveries_broadcast_state``, not a count of all
        of them as ``progress`` makes (the worker asks after every batch)."""
        with self._tx() as conn:
            row = conn.execute(
                select(Delivery.id)
                .where(Delivery.broadcast_id == broadcast_id, Delivery.state.in_(UNFINISHED_STATES))
                .limit(1)
            ).first()
        return row is not None

    def pending(self, broadcast_id: str, limit: int = 1000, after: str = "") -> List[str]:
        """Recipients still queued (a restarted fan-out sends them again, idempotently)."""
        with self._tx() as conn:
            rows = conn.execute(
                select(Delivery.sender_id)
                .where(Delivery.broadcast_id == broadcast_id, Delivery.state == "queued", Delivery.sender_id > after)
                .order_by(Delivery.sender_id)
                .limit(limit)
            )
            return [r.sender_id for r in rows]

    # --- polls -------------------------------------------------------------------------------

    def vote(self, poll_id: str, choice: str) -> None:
        """One more answer ``choice`` to ``poll_id``: a count, nothing about who answered."""
        with self._tx() as conn:
            statement = self._insert(conn, PollCount).values(poll_id=poll_id, choice=choice, count=1)
            conn.execute(
                statement.on_conflict_do_update(
                    index_elements=["poll_id", "choice"], set_={"count": PollCount.__table__.c.count + 1}
                )
            )

    def poll_counts(self, poll_id: str) -> Dict[str, int]:
        with self._tx() as conn:
            rows = conn.execute(select(PollCount.choice, PollCount.count).where(PollCount.poll_id == poll_id))
            return {r[0]: int(r[1]) for r in rows}
