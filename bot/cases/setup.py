"""What ``make run`` does for cases before the servers start: make sure there is a key (in
development, create one in ``.run/case.key`` with a warning), and create or migrate the schema, so
that a problem shows at start rather than when a child files a report.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Dict, List

from bot.cases.crypto import CaseCipher, dev_key, parse_keys
from bot.cases.desk import RUN_DIR, database_url
from bot.cases.store import CaseStore, CaseStoreError, engine_for
from bot.settings import Settings

__all__ = ["prepare_cases", "status_lines"]

DEV_KEY_WARNING = """\
WARNING: CASE_ENCRYPTION_KEYS is not set, so a development key was created in {path}.
         Reports are encrypted with it: keep that file, or they cannot be read again.
         Never use it in production: set CASE_ENCRYPTION_KEYS (see docs/REPORTING.md).
"""


def prepare_cases(settings: Settings, run_dir: Path = RUN_DIR) -> Dict[str, str]:
    """Environment the servers need for cases (the development key), after migrating the schema."""
    env: Dict[str, str] = {}
    keys = parse_keys(settings.case_encryption_keys)
    if not keys:
        if settings.production:
            print("WARNING: CASE_ENCRYPTION_KEYS is not set: no report can be stored.", file=sys.stderr)
            return env
        key, created = dev_key(run_dir)
        if created:
            print(DEV_KEY_WARNING.format(path=run_dir / "case.key"), file=sys.stderr, flush=True)
        keys = [key]
        env["CASE_ENCRYPTION_KEYS"] = key
    try:
        store = CaseStore(engine_for(database_url(settings, run_dir)), CaseCipher(keys))
        try:
            store.migrate()
        finally:
            store.close()
    except (CaseStoreError, ValueError) as error:
        print(f"WARNING: the case database is not available ({error}); reports will fail, honestly,"
              " until it is.", file=sys.stderr, flush=True)  # fmt: skip
    return env


def status_lines(settings: Settings, run_dir: Path = RUN_DIR) -> List[str]:
    """What ``make run`` prints about cases (never the database password)."""
    where = "PostgreSQL (DATABASE_URL)" if settings.database_url else f"SQLite {run_dir / 'cases.db'}"
    if parse_keys(settings.case_encryption_keys):
        keys = "CASE_ENCRYPTION_KEYS"
    elif settings.production:
        keys = "NO KEY: reports cannot be stored"
    else:
        keys = f"development key {run_dir / 'case.key'}"
    lines = [f"Cases: {where}, encrypted with {keys}"]
    if settings.redis_url:
        lines.append(f"Case events: Redis stream {settings.cases_stream}")
    if settings.counselor_telegram_chat_id:
        lines.append("Counselor notices: Telegram group (metadata only)")
    return lines
