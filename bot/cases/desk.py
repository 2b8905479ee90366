"""``CaseDesk``: what the actions call. Records a case (committed), then publishes its event on the
Redis stream and, for cases that need a counselor now, sends the Telegram group a notice in the
background. Built from settings once per process; never raises at construction, so that a missing
key or database only shows when a case is actually written, as an honest ``CaseStoreError``.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import List, Optional

from bot.cases.crypto import CaseCipher, MissingKey, dev_key, parse_keys
from bot.cases.events import CaseEvents
from bot.cases.notify import CounselorNotifier
from bot.cases.store import CaseMeta, CaseStore, CaseStoreError, CaseUpdate, Conversation, Recorded, engine_for
from bot.settings import PROJECT_ROOT, Settings

__all__ = ["CaseDesk", "case_keys", "database_url", "RUN_DIR"]

logger = logging.getLogger(__name__)

RUN_DIR = PROJECT_ROOT / ".run"


def database_url(settings: Settings, run_dir: Path = RUN_DIR) -> str:
    """``DATABASE_URL``, else the SQLite file ``.run/cases.db``."""
    return settings.database_url or f"sqlite:///{run_dir / 'cases.db'}"


def case_keys(settings: Settings, run_dir: Path = RUN_DIR) -> List[str]:
    """``CASE_ENCRYPTION_KEYS``; in development only, the key ``make run`` left in ``.run/case.key``."""
    keys = parse_keys(settings.case_encryption_keys)
    if not keys and not settings.production and (run_dir / "case.key").exists():
        keys = [dev_key(run_dir)[0]]
    return keys


class CaseDesk:
    """Cases plus their events and notices."""

    def __init__(
        self,
        store: Optional[CaseStore],
        events: CaseEvents,
        notifier: CounselorNotifier,
        problem: Optional[str] = None,
    ):
        self.store = store
        self.events = events
        self.notifier = notifier
        self.problem = problem
        self._notices = ThreadPoolExecutor(max_workers=2, thread_name_prefix="case-notice")
        self._pending: List[Future] = []
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> CaseDesk:
        events = CaseEvents(settings.redis_url, settings.cases_stream)
        notifier = CounselorNotifier(
            settings.counselor_telegram_bot_token or settings.telegram_bot_token,
            settings.counselor_telegram_chat_id,
            settings.telegram_api_base_url,
        )
        try:
            store = CaseStore(engine_for(database_url(settings)), CaseCipher(case_keys(settings)))
        except MissingKey:
            logger.error("cases.unavailable reason=no_encryption_key")
            return cls(None, events, notifier, problem="no encryption key (CASE_ENCRYPTION_KEYS)")
        except ValueError as error:  # a malformed key or URL
            logger.error("cases.unavailable reason=bad_configuration")
            return cls(None, events, notifier, problem=str(error))
        return cls(store, events, notifier)

    def _store(self) -> CaseStore:
        if self.store is None:
            raise CaseStoreError(f"case store not configured: {self.problem}")
        return self.store

    def record(self, conversation: Conversation, update: CaseUpdate, reference: Optional[str] = None) -> Recorded:
        """Commit ``update`` (see ``CaseStore.record``), then announce it. Raises ``CaseStoreError``."""
        recorded = self._store().record(conversation, update, reference)
        case = recorded.case
        if recorded.created:
            kind = "case.opened"
        elif update.counselor_requested:
            kind = "case.escalated"
        else:
            kind = "case.updated"
        self.events.publish(kind, case)
        logger.info(
            "cases.recorded type=%s reference=%s risk=%s origin=%s", kind, case.reference, case.risk, update.origin
        )
        if recorded.created or update.counselor_requested or (recorded.risk_raised and case.risk == "urgent"):
            self._notify(kind, case)
        return recorded

    def set_status(self, reference: str, status: str) -> Optional[CaseMeta]:
        """Change a case's status and announce it; None for an unknown reference."""
        changed = self._store().set_status(reference, status)
        if changed is None:
            return None
        case, previous = changed
        if previous != status:
            self.events.publish("case.status_changed", case, previous_status=previous)
            logger.info("cases.status reference=%s status=%s", case.reference, status)
        return case

    def case_in_conversation(self, reference: str, conversation: Conversation) -> Optional[CaseMeta]:
        return self._store().case_in_conversation(reference, conversation)

    def cases_of(self, conversation: Conversation) -> List[CaseMeta]:
        return self._store().cases_of(conversation)

    def unlink(self, conversation: Conversation) -> List[CaseMeta]:
        """Forget the conversation's link to its cases (the cases stay for the counselors)."""
        unlinked = self._store().unlink(conversation)
        for case in unlinked:
            self.events.publish("case.updated", case)
        return unlinked

    def purge_closed(self, older_than_days: int, dry_run: bool = False) -> int:
        return self._store().purge_closed(timedelta(days=older_than_days), dry_run=dry_run)

    def _notify(self, kind: str, case: CaseMeta) -> None:
        if not self.notifier.enabled:
            return
        with self._lock:
            self._pending = [f for f in self._pending if not f.done()]
            self._pending.append(self._notices.submit(self.notifier.notify, kind, case))

    def wait_for_notices(self, timeout: float = 10.0) -> None:
        """Block until the notices sent so far are done (for tests and shutdown)."""
        with self._lock:
            pending = list(self._pending)
        for future in pending:
            future.result(timeout=timeout)

    def close(self) -> None:
        self._notices.shutdown(wait=True)
        self.events.close()
        if self.store is not None:
            self.store.close()
