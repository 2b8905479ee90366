"""``python -m bot counselors ...`` as an operator runs it, against real SQLite and PostgreSQL:
accounts are created with the password from standard input, stored as argon2id hashes (never the
password), listed, disabled and re-enabled; bad input is refused with a reason."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import List

from argon2 import PasswordHasher
from sqlalchemy import create_engine, text

from bot.console.accounts import Accounts
from bot.settings import PROJECT_ROOT

PASSWORD = "a long passphrase 1"


def cli(database_url: str, args: List[str], stdin: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "bot", "counselors", *args],
        cwd=PROJECT_ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_counselors_add_list_disable(database_url: str) -> None:
    added = cli(database_url, ["add", "mona", "--role", "supervisor", "--password-stdin"], PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    assert "Added mona (supervisor)" in added.stdout
    assert PASSWORD not in added.stdout + added.stderr

    engine = create_engine(database_url, future=True)
    try:
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT password_hash, role FROM counselors WHERE username = 'mona'")).one()
        assert stored.role == "supervisor"
        assert stored.password_hash.startswith("$argon2id$")
        assert PASSWORD not in stored.password_hash
        assert PasswordHasher().verify(stored.password_hash, PASSWORD)
        assert Accounts(engine).verify("mona", PASSWORD) is not None
        assert Accounts(engine).verify("mona", PASSWORD + "x") is None
    finally:
        engine.dispose()

    assert cli(database_url, ["add", "sara", "--password-stdin"], PASSWORD + "\n").returncode == 0
    listed = cli(database_url, ["list"])
    assert listed.stdout.splitlines() == ["mona\tsupervisor\tactive", "sara\tcounselor\tactive"]
    assert cli(database_url, ["disable", "sara"]).returncode == 0
    assert "sara\tcounselor\tdisabled" in cli(database_url, ["list"]).stdout
    assert cli(database_url, ["enable", "sara"]).returncode == 0
    assert "sara\tcounselor\tactive" in cli(database_url, ["list"]).stdout


def test_bad_accounts_are_refused_with_a_reason(database_url: str) -> None:
    short = cli(database_url, ["add", "mona", "--password-stdin"], "short\n")
    assert short.returncode == 1 and "at least 12 characters" in short.stderr
    bad_name = cli(database_url, ["add", "Mona Lisa", "--password-stdin"], PASSWORD + "\n")
    assert bad_name.returncode == 1 and "lower-case" in bad_name.stderr
    assert cli(database_url, ["add", "mona", "--password-stdin"], PASSWORD + "\n").returncode == 0
    again = cli(database_url, ["add", "mona", "--password-stdin"], PASSWORD + "\n")
    assert again.returncode == 1 and "exists" in again.stderr
    assert cli(database_url, ["disable", "nobody"]).returncode == 1
    wrong_role = cli(database_url, ["add", "sara", "--role", "admin", "--password-stdin"], PASSWORD + "\n")
    assert wrong_role.returncode == 2  # argparse refuses it
