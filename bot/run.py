"""``make run``: the Rasa server, the action server, the counselor console and (with ``REDIS_URL``)
a campaign worker, on embedded defaults, supervised together.

Writes the channel credentials and endpoints for this environment into ``.run/``, starts the
three processes, prints what runs where once they answer, starts again any process that dies
(``bot.supervise``, with a log line) and stops everything it started on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import IO, Dict, List, Optional

import yaml

from bot.action_server import ACTION_TOKEN_ENV, action_headers, action_server_token
from bot.cases.desk import database_url
from bot.cases.setup import prepare_cases
from bot.cases.setup import status_lines as cases_status_lines
from bot.logging_redact import logging_config_file
from bot.model import ensure_model, rasa_env
from bot.settings import PROJECT_ROOT, Settings, get_settings, sanic_limits, write_dev_handover_token
from bot.supervise import Restartable, supervise

__all__ = [
    "write_runtime_config",
    "is_postgresql",
    "start",
    "start_console",
    "start_campaign_worker",
    "stop",
    "wait_until_up",
    "main",
]


def write_runtime_config(settings: Settings, run_dir: Path, actions_port: int) -> Dict[str, Path]:
    """credentials.yml (the channels whose settings are present) and endpoints.yml for this run.

    Our actions read no domain, so Rasa is told not to send the whole domain with every action call
    (``enable_selective_domain``): that halves the cost of a custom action.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    # The web widget's channel is always on: it needs no secret (origins come from WEB_ALLOWED_ORIGINS).
    # The hand-over endpoint too: the counselor console delivers through it (token: HANDOVER_TOKEN).
    credentials: Dict[str, Dict[str, str]] = {
        "channels.rest.RestInput": {},
        "channels.web.WebInput": {},
        "channels.handover.HandoverInput": {},
    }
    endpoints: Dict[str, object] = {
        "action_endpoint": {
            "url": f"http://localhost:{actions_port}/webhook",
            "enable_selective_domain": True,
            # The action server refuses calls without it; named here, filled in by Rasa from the environment.
            "headers": action_headers("${%s}" % ACTION_TOKEN_ENV),
        }
    }
    # Telegram and WhatsApp read their secrets from the environment; here they are only switched on.
    if settings.telegram_enabled:
        credentials["channels.telegram.TelegramInput"] = {}
    if settings.whatsapp_enabled:
        credentials["channels.whatsapp.WhatsAppInput"] = {}
    # Conversations forgotten on "delete my data" and after CONVERSATION_RETENTION_DAYS: in PostgreSQL
    # when DATABASE_URL names it (appended, never rewritten: bench/tracker_stores.py), else in Redis
    # when it is configured (every Rasa server behind a load balancer sees them), else in memory.
    retention = {"retention_days": settings.conversation_retention_days}
    if settings.redis_url:
        endpoints["lock_store"] = {"type": "bot.locks.AtomicRedisLockStore", **_redis_store(settings.redis_url, db=1)}
    if is_postgresql(settings.database_url):
        # No URL here: the store reads DATABASE_URL, so that its password is never written to disk.
        endpoints["tracker_store"] = {"type": "bot.cases.conversations_sql.AppendOnlySQLTrackerStore", **retention}
    elif settings.redis_url:
        endpoints["tracker_store"] = {
            "type": "bot.cases.conversations.ForgetfulRedisTrackerStore",
            **_redis_store(settings.redis_url, db=2),
            **retention,
        }
    else:
        endpoints["tracker_store"] = {"type": "bot.cases.conversations.ForgetfulTrackerStore", **retention}
    paths = {"credentials": run_dir / "credentials.yml", "endpoints": run_dir / "endpoints.yml"}
    paths["credentials"].write_text(yaml.safe_dump(credentials))
    paths["endpoints"].write_text(yaml.safe_dump(endpoints))
    # Both servers load it: message text, phone numbers and e-mails never reach a log above debug.
    paths["logging"] = logging_config_file(run_dir / "logging.yml")
    return paths


def is_postgresql(url: Optional[str]) -> bool:
    """Whether a ``DATABASE_URL`` names PostgreSQL (``postgresql://``, ``postgres://``, with a driver)."""
    scheme = (url or "").split("://", 1)[0].lower()
    return scheme in ("postgres", "postgresql") or scheme.startswith("postgresql+")


def _messaging_lines(settings: Settings, port: int) -> str:
    """Where Telegram and WhatsApp deliver, or which variables would switch them on."""
    public = settings.public_base_url or f"http://localhost:{port}"
    lines = []
    if settings.telegram_enabled:
        lines.append(
            f"Telegram webhook: {public}/webhooks/telegram/webhook (register: python -m bot telegram set-webhook)"
        )
    else:
        lines.append("Telegram: off (set TELEGRAM_BOT_TOKEN and TELEGRAM_WEBHOOK_SECRET)")
    if settings.whatsapp_enabled:
        lines.append(
            f"WhatsApp webhook: {public}/webhooks/whatsapp/webhook (status: {public}/webhooks/whatsapp/status)"
        )
    else:
        lines.append("WhatsApp: off (set TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_WHATSAPP_FROM, PUBLIC_BASE_URL)")
    return "".join(f"{line}\n" for line in lines)


# endpoints.yml names the Redis password by an environment variable (Rasa fills ``${...}`` in when it
# reads the file), so that the password itself is never written to disk.
REDIS_PASSWORD_ENV = "AMAAN_REDIS_PASSWORD"  # noqa: S105 - the name of a variable, not a password


def _redis_store(url: str, db: int) -> Dict[str, object]:
    """Where a Rasa Redis store (lock or tracker) connects for ``REDIS_URL``: host (Rasa passes a
    store's "url" on as its host), port, database, TLS, and the password by name only."""
    from urllib.parse import urlparse

    parsed = urlparse(url)
    found: Dict[str, object] = {
        "url": parsed.hostname or "localhost",
        "port": parsed.port or 6379,
        "db": db,
        "key_prefix": "amaan",
    }
    if parsed.password:
        found["password"] = "${%s}" % REDIS_PASSWORD_ENV
    if parsed.scheme == "rediss":
        found["use_ssl"] = True
    return found


def redis_password_env(url: Optional[str]) -> Dict[str, str]:
    """The environment the servers need to fill the password into endpoints.yml."""
    from urllib.parse import unquote, urlparse

    password = urlparse(url).password if url else None
    return {REDIS_PASSWORD_ENV: unquote(password)} if password else {}


def wait_until_up(url: str, processes: List[subprocess.Popen], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in processes):
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:  # noqa: S310 - localhost only
                if reply.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.5)
    return False


def stop(processes: List[subprocess.Popen]) -> None:
    for p in processes:
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
    deadline = time.monotonic() + 15
    for p in processes:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()


def start_console(
    console_port: int, rasa_port: int, env: Dict[str, str], root: Path = PROJECT_ROOT, output: Optional[IO] = None
) -> subprocess.Popen:
    """Start the counselor console (``python -m bot console``); it delivers through the Rasa server
    on ``rasa_port`` unless ``RASA_SERVER_URL`` says otherwise."""
    env = {**env, "RASA_SERVER_URL": env.get("RASA_SERVER_URL") or f"http://localhost:{rasa_port}"}
    return Restartable(
        "console",
        [sys.executable, "-m", "bot", "console", "--port", str(console_port)],
        console_port,
        cwd=root,
        env=env,
        stdout=output,
        stderr=output,
    )


def start_campaign_worker(
    env: Dict[str, str], root: Path = PROJECT_ROOT, output: Optional[IO] = None
) -> subprocess.Popen:
    """Start a campaign worker (Dramatiq, ``bot.campaigns.worker``): its own process, queue and
    connections, so that a broadcast never delays a reply. More may run, on any machine."""
    return Restartable(
        "campaign-worker",
        [sys.executable, "-m", "dramatiq", "bot.campaigns.worker", "--processes", "1", "--threads", "8"],
        cwd=root,
        env=env,
        stdout=output,
        stderr=output,
    )


def start(
    port: int,
    actions_port: int,
    model: Path,
    root: Path = PROJECT_ROOT,
    output: Optional[IO] = None,
    run_dir: Optional[Path] = None,
    console_port: Optional[int] = None,
    action_endpoint_port: Optional[int] = None,
) -> List[subprocess.Popen]:
    """Start the action server, the Rasa server and (given ``console_port``) the counselor console;
    return the processes (not yet ready).

    Their configuration, development keys and the SQLite case file go into ``run_dir`` (default
    ``.run/``); a test session passes a directory of its own, so that two sessions never share them.
    Rasa's HTTP API (trackers, events) is on only with ``RASA_API_TOKEN`` set, and then needs it.
    ``action_endpoint_port`` sends the Rasa server's action calls elsewhere than to the action server
    started here (``bot.cluster``: to the load balancer in front of every action server).
    """
    settings = get_settings()
    run_dir = run_dir or root / ".run"
    paths = write_runtime_config(settings, run_dir, action_endpoint_port or actions_port)
    env = rasa_env(root)
    env["ACTION_SERVER_URL"] = f"http://localhost:{action_endpoint_port or actions_port}/webhook"
    env.update(prepare_cases(settings, run_dir))
    env.update(redis_password_env(settings.redis_url))
    env["DATABASE_URL"] = database_url(settings, run_dir)
    env.update(sanic_limits())  # 413 for a body past what any channel needs, before it is read
    if not settings.handover_token and not settings.production:
        # Development: a token for the console's deliveries, handed to every process it starts.
        token_file = write_dev_handover_token(run_dir)
        env["HANDOVER_TOKEN"] = token_file.read_text(encoding="utf-8").strip()
    # The shared secret between the Rasa server and the action server (bot.action_server).
    env[ACTION_TOKEN_ENV] = action_server_token(settings, run_dir)
    logging_args = ["--logging-config-file", str(paths["logging"])]
    out = output
    # Rasa's HTTP API is on with RASA_API_TOKEN, which bot.rasa_server reads from the environment:
    # never on the command line, where `ps` shows it to every user of the machine.
    if settings.rasa_api_token:
        env["RASA_API_TOKEN"] = settings.rasa_api_token
    actions = Restartable(
        "actions",
        [sys.executable, "-m", "bot.action_server", "--actions", "actions", "--port", str(actions_port), *logging_args],
        actions_port,
        cwd=root,
        env=env,
        stdout=out,
        stderr=out,
    )
    rasa = Restartable(
        "rasa",
        [
            sys.executable,
            "-m",
            "bot.rasa_server",
            "--model",
            str(model),
            "--port",
            str(port),
            "--credentials",
            str(paths["credentials"]),
            "--endpoints",
            str(paths["endpoints"]),
            *logging_args,
        ],
        port,
        cwd=root,
        env=env,
        stdout=out,
        stderr=out,
    )
    processes: List[subprocess.Popen] = [actions, rasa]
    if console_port is not None:
        if not settings.console_secret_key and not settings.production:
            from bot.console.config import console_secret_key

            env["CONSOLE_SECRET_KEY"] = console_secret_key(settings, run_dir)  # the dev key in run_dir
        processes.append(start_console(console_port, port, env, root, out))
    if settings.redis_url:
        processes.append(start_campaign_worker(env, root, out))
    return processes


def main(port: Optional[int] = None, actions_port: Optional[int] = None, console_port: Optional[int] = None) -> int:
    port = port or int(os.environ.get("PORT", "5005"))
    actions_port = actions_port or int(os.environ.get("ACTIONS_PORT", "5055"))
    console_port = console_port or get_settings().console_port
    model = ensure_model()
    processes = start(port, actions_port, model, console_port=console_port)

    def on_sigterm(*_: object) -> None:
        stop(processes)
        sys.exit(0)

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        up = (
            wait_until_up(f"http://localhost:{actions_port}/health", processes, 120)
            and wait_until_up(f"http://localhost:{port}/webhooks/rest/", processes, 300)
            and wait_until_up(f"http://localhost:{console_port}/console/health", processes, 60)
        )
        if not up:
            print("A server failed to start; see the output above.", file=sys.stderr)
            stop(processes)
            return 1
        print(
            "\nAmaan is running (Ctrl-C stops everything):\n"
            f"  Rasa server:   http://localhost:{port}\n"
            f"  REST channel:  http://localhost:{port}/webhooks/rest/webhook\n"
            f"  Action server: http://localhost:{actions_port}\n"
            f"  Model:         {model}\n",
            flush=True,
        )
        print(f"Demo page: http://localhost:{port}/webhooks/web/demo", flush=True)
        print(f"Console: http://localhost:{console_port}/console", flush=True)
        print("\n".join(cases_status_lines(get_settings())), flush=True)
        print(_messaging_lines(get_settings(), port), end="", flush=True)
        if get_settings().redis_url:
            print("Campaign worker: running (python -m bot campaigns list)", flush=True)
        else:
            print("Campaign worker: off (set REDIS_URL; docs/CAMPAIGNS.md)", flush=True)
        supervise(processes)  # a process that dies is started again, with a line saying so
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        stop(processes)
