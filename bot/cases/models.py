"""The tables. Only what the counselors' queue needs is in clear; everything a user said is in the
two encrypted columns.

``cases``: reference, risk, status, channel, language, age group and timestamps in clear;
``conversation`` (which chat filed it, so a counselor can answer there and a status query can be
checked) and ``contents`` (answers, disclosures, transcript excerpts) encrypted with
``bot.cases.crypto.CaseCipher``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Optional

from sqlalchemy import Boolean, Column, DateTime, Integer, LargeBinary, String, TypeDecorator
from sqlalchemy.orm import declarative_base

__all__ = [
    "Base",
    "Case",
    "CaseMessage",
    "CounselorPresence",
    "SchemaVersion",
    "STATUSES",
    "OUTCOMES",
    "AUTHORS",
    "utcnow",
]

Base: Any = declarative_base()

# received: waiting for a counselor; with_counselor: a counselor holds it; closed: done.
STATUSES = ("received", "with_counselor", "closed")
# How a counselor closes a case.
OUTCOMES = ("advised", "referred_authorities", "referred_helpline", "no_contact", "other")
# Who wrote a message in a case's conversation while a counselor held it ("note": counselor-only).
AUTHORS = ("user", "counselor", "note", "system")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every database (SQLite keeps no zone of its own)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: Optional[datetime], dialect: Any) -> Optional[datetime]:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime; use timezone-aware UTC")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: Optional[datetime], dialect: Any) -> Optional[datetime]:
        return value.replace(tzinfo=timezone.utc) if value is not None else None


class Case(Base):
    __tablename__ = "cases"

    id = Column(Integer, primary_key=True, autoincrement=True)
    reference = Column(String(16), nullable=False, unique=True, index=True)
    risk = Column(String(16), nullable=False, index=True)
    status = Column(String(16), nullable=False, index=True)
    channel = Column(String(32), nullable=False)
    language = Column(String(8), nullable=True)
    audience = Column(String(16), nullable=True)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow)
    closed_at = Column(UTCDateTime, nullable=True, index=True)
    # Encrypted: {"channel": ..., "sender_id": ...}; NULL once the user has asked to be forgotten.
    conversation = Column(LargeBinary, nullable=True)
    # Encrypted: the report (see bot.cases.store.merge_contents).
    contents = Column(LargeBinary, nullable=False)
    # The counselor the case is assigned to (claimed or reassigned); None while it waits.
    assignee = Column(String(64), nullable=True, index=True)
    # True while a counselor holds the conversation live: the bot stays silent for that user.
    held = Column(Boolean, nullable=False, default=False, server_default="0", index=True)
    held_since = Column(UTCDateTime, nullable=True)
    outcome = Column(String(32), nullable=True)
    # How the case was opened (the first update's origin): disclosure, check_in, report,
    # counselor_request or urgent_answer. Metadata, in clear, so the queue can show it.
    opened_by = Column(String(32), nullable=True)


class CaseMessage(Base):
    """One message of a hand-over: the user's, the counselor's, a private note or a system line.
    The text is encrypted like the report."""

    __tablename__ = "case_messages"

    id = Column(Integer, primary_key=True, autoincrement=True)
    reference = Column(String(16), nullable=False, index=True)
    at = Column(UTCDateTime, nullable=False, default=utcnow)
    author = Column(String(16), nullable=False)
    counselor = Column(String(64), nullable=True)
    body = Column(LargeBinary, nullable=False)


class CounselorPresence(Base):
    """Who is on duty: a counselor's console touches its row on every request and heartbeat."""

    __tablename__ = "counselor_presence"

    username = Column(String(64), primary_key=True)
    last_seen = Column(UTCDateTime, nullable=False, index=True)


class SchemaVersion(Base):
    """One row per component: the migration level its tables are at."""

    __tablename__ = "amaan_schema"

    component = Column(String(32), primary_key=True)
    version = Column(Integer, nullable=False)
