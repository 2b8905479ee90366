"""Cases: the confidential reports and escalations that counselors act on.

``CaseStore`` keeps them (SQLAlchemy; SQLite by default, PostgreSQL with ``DATABASE_URL``), with
what users said encrypted by ``CaseCipher``; ``CaseEvents`` announces them on a Redis stream;
``CounselorNotifier`` tells the counselors' Telegram group (metadata only); ``CaseDesk`` puts the
three together for the actions. ``triage`` decides how urgent a case is.
"""

from bot.cases.crypto import CaseCipher, MissingKey, generate_key
from bot.cases.desk import CaseDesk, case_keys, database_url
from bot.cases.events import CaseEvents
from bot.cases.handover import CaseClosed, Handovers, HeldByAnother, Message
from bot.cases.notify import CounselorNotifier
from bot.cases.reference import find_references, new_reference
from bot.cases.store import CaseMeta, CaseStore, CaseStoreError, CaseUpdate, Conversation, Recorded
from bot.cases.triage import triage

# The action that asks the conversation store to forget a conversation ("delete my data").
FORGET_ACTION = "action_delete_my_data"

__all__ = [
    "FORGET_ACTION",
    "CaseCipher",
    "CaseClosed",
    "CaseDesk",
    "CaseEvents",
    "CaseMeta",
    "CaseStore",
    "CaseStoreError",
    "CaseUpdate",
    "Conversation",
    "CounselorNotifier",
    "Handovers",
    "HeldByAnother",
    "Message",
    "MissingKey",
    "Recorded",
    "case_keys",
    "database_url",
    "find_references",
    "generate_key",
    "new_reference",
    "triage",
]
