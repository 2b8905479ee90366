"""``make run`` as a user runs it: `python -m bot run` prints where things are (the counselor console
too), answers over REST in the user's language, and Ctrl-C stops everything it started. And the
Python 3.10 finder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from bot.cases import generate_key
from bot.settings import PROJECT_ROOT
from tests.conftest import free_port


def _port_open(port: int) -> bool:
    try:
        requests.get(f"http://localhost:{port}/", timeout=1)
        return True
    except requests.ConnectionError:
        return False


@pytest.mark.server
def test_run_answers_over_rest_and_ctrl_c_stops_everything(model_path: object) -> None:
    port, actions_port, console_port = free_port(), free_port(), free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "ACTIONS_PORT": str(actions_port),
        "CONSOLE_PORT": str(console_port),
        "PYTHONUNBUFFERED": "1",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            line = proc.stdout.readline()  # type: ignore[union-attr]
            if not line and proc.poll() is not None:
                break
            lines.append(line)
            if line.startswith("Console:"):
                break
        output = "".join(lines)
        assert f"REST channel:  http://localhost:{port}/webhooks/rest/webhook" in output, output[-3000:]
        assert f"Console: http://localhost:{console_port}/console" in output, output[-3000:]
        assert requests.get(f"http://localhost:{console_port}/console/login", timeout=10).status_code == 200
        reply = requests.post(
            f"http://localhost:{port}/webhooks/rest/webhook",
            json={"sender": "run-test", "message": "مرحبا"},
            timeout=60,
        )
        assert reply.status_code == 200
        assert "مساعد آلي" in reply.json()[0]["text"]
    finally:
        proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
        proc.wait(timeout=60)
    assert not _port_open(port)
    assert not _port_open(actions_port)
    assert not _port_open(console_port)


def test_the_console_process_serves_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    """The third process ``make run`` starts, alone: up on its port, gone after SIGINT (Ctrl-C)."""
    from bot.run import start_console, stop, wait_until_up

    console_port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cases.db'}",
        "CASE_ENCRYPTION_KEYS": generate_key(),
        "CONSOLE_SECRET_KEY": generate_key(),
        "HANDOVER_TOKEN": "run-test-token-0123456789abcdefghijklmnop",
    }
    with open(tmp_path / "console.log", "w") as log:
        process = start_console(console_port, free_port(), env, output=log)
        try:
            assert wait_until_up(f"http://localhost:{console_port}/console/health", [process], 60), (
                tmp_path / "console.log"
            ).read_text()
            page = requests.get(f"http://localhost:{console_port}/console/login", timeout=10)
            assert page.status_code == 200 and 'dir="rtl"' in page.text
        finally:
            stop([process])
    assert process.returncode is not None
    assert not _port_open(console_port)


@pytest.mark.skipif(
    any(
        os.path.exists(p)
        for p in ("/usr/bin/python3.10", "/usr/local/bin/python3.10", "/opt/python3.10/bin/python3.10")
    ),
    reason="this machine has a system Python 3.10",
)
def test_python310_finder_explains_what_to_install() -> None:
    result = subprocess.run(
        ["/bin/bash", str(PROJECT_ROOT / "scripts" / "find-python310.sh")],
        env={"PATH": "/usr/bin:/bin", "PYTHON310": ""},  # no pyenv, no python3.10 here
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "Python 3.10" in result.stderr and "pyenv install 3.10" in result.stderr


def test_python310_finder_finds_one_here() -> None:
    found = subprocess.run([str(PROJECT_ROOT / "scripts" / "find-python310.sh")], capture_output=True, text=True)
    assert found.returncode == 0
    check = subprocess.run(
        [found.stdout.strip(), "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True
    )
    assert check.stdout.strip() == "(3, 10)"
