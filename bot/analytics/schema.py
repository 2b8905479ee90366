"""The analytics tables in the case database, migrated as the component ``analytics``.

* ``analytics_counts``: (day, metric, dimensions) -> count. Nothing else: no text, no sender id,
  no case reference, no time finer than a day.
* ``analytics_sketch``: the weekly distinct-users sketch (HyperLogLog registers, ``sketch.py``).
* ``analytics_salts``: the current week's salt for that sketch; deleted once the week is over, after
  which nobody can tell whether a given user is in an old sketch.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Column, Date, Integer, MetaData, String, Table
from sqlalchemy.engine import Engine

__all__ = ["METADATA", "COUNTS", "SKETCH", "SALTS", "migrate_analytics"]

METADATA = MetaData()

COUNTS = Table(
    "analytics_counts",
    METADATA,
    Column("day", Date, primary_key=True),
    Column("metric", String(48), primary_key=True),
    Column("dims", String(255), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

SKETCH = Table(
    "analytics_sketch",
    METADATA,
    Column("week", Date, primary_key=True),
    Column("register", Integer, primary_key=True, autoincrement=False),
    Column("rank", Integer, nullable=False),
)

SALTS = Table(
    "analytics_salts",
    METADATA,
    Column("week", Date, primary_key=True),
    Column("salt", String(64), nullable=False),
)


def _migrate_v1(conn: Any) -> None:
    METADATA.create_all(conn, checkfirst=True)


MIGRATIONS = [(1, _migrate_v1)]


def migrate_analytics(engine: Engine) -> int:
    """Create or bring the analytics tables up to date (under the case database's migration lock)."""
    from bot.cases.schema import migrate_component  # late: bot.cases counts through this package

    return migrate_component(engine, "analytics", MIGRATIONS)
