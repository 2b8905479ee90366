"""The action server (``python -m bot.action_server --actions actions``): rasa-sdk's own app, open to
the Rasa server only.

rasa-sdk 3.6 listens on ``0.0.0.0`` and runs any action for whoever posts a tracker, so anyone who
reaches the port could read a child's report status, write into their case or delete their data.
Here the same app (``rasa_sdk.endpoint.create_app``, plugins attached as ``rasa_sdk.endpoint.run``
does) is served:

* on ``ACTION_SERVER_HOST`` (default ``127.0.0.1``; a private-network address in production when
  the Rasa server runs on another machine);
* behind a shared secret: every request but ``GET /health`` needs ``Authorization: Bearer
  <ACTION_SERVER_TOKEN>`` (compared in constant time), else 401. The Rasa server sends it: the
  ``action_endpoint`` in ``.run/endpoints.yml`` names the variable (``${ACTION_SERVER_TOKEN}``),
  never the value. In development ``make run`` generates ``.run/action_server.token``; in
  production a missing or short token stops the server from starting;
* without CORS (no browser has any business here).
"""

from __future__ import annotations

import argparse
import hmac
import logging
import os
import secrets
from pathlib import Path
from typing import Any, Dict, List, Optional

from bot.settings import PROJECT_ROOT, Settings, get_settings

__all__ = [
    "ACTION_TOKEN_ENV",
    "MIN_ACTION_TOKEN_CHARS",
    "action_headers",
    "action_server_token",
    "secured_app",
    "write_dev_action_token",
    "main",
]

logger = logging.getLogger(__name__)

ACTION_TOKEN_ENV = "ACTION_SERVER_TOKEN"  # noqa: S105 - the name of a variable, not a secret
ACTION_TOKEN_FILE = "action_server.token"  # noqa: S105 - a file name, not a secret
MIN_ACTION_TOKEN_CHARS = 32
OPEN_PATHS = ("/health",)  # tells a load balancer the process is up; carries nothing


def action_headers(token: str) -> Dict[str, str]:
    """The headers the Rasa server sends with every action call."""
    return {"Authorization": f"Bearer {token}"}


def write_dev_action_token(run_dir: Path) -> str:
    """``run_dir/action_server.token`` (owner-only), created unless it exists; its token."""
    path = run_dir / ACTION_TOKEN_FILE
    if not path.exists():
        run_dir.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first
        else:
            with os.fdopen(descriptor, "w", encoding="utf-8") as f:
                f.write(secrets.token_urlsafe(32))
    return path.read_text(encoding="utf-8").strip()


def action_server_token(settings: Settings, run_dir: Optional[Path] = None) -> str:
    """``ACTION_SERVER_TOKEN``; outside production, the development token in ``.run/`` (created).

    Raises:
        RuntimeError: in production without a token of at least 32 characters.
    """
    token = (settings.action_server_token or "").strip()
    if not token:
        if settings.production:
            raise RuntimeError(f"{ACTION_TOKEN_ENV} must be set in production (see docs/SECURITY.md)")
        token = write_dev_action_token(run_dir or PROJECT_ROOT / ".run")
    if len(token) < MIN_ACTION_TOKEN_CHARS:
        raise RuntimeError(f"{ACTION_TOKEN_ENV} must be at least {MIN_ACTION_TOKEN_CHARS} characters")
    return token


def secured_app(actions: str, token: str) -> Any:
    """rasa-sdk's app for the ``actions`` package, refusing every call without the token."""
    from rasa_sdk.endpoint import create_app
    from rasa_sdk.plugin import plugin_manager
    from sanic import response
    from sanic.request import Request

    if len(token) < MIN_ACTION_TOKEN_CHARS:
        raise RuntimeError(f"{ACTION_TOKEN_ENV} must be at least {MIN_ACTION_TOKEN_CHARS} characters")
    expected = f"Bearer {token}".encode()
    app = create_app(actions, cors_origins=None)

    @app.middleware("request")
    async def require_token(request: Request) -> Any:
        if request.method == "GET" and request.path in OPEN_PATHS:
            return None
        supplied = request.headers.get("Authorization", "").encode("utf-8", "replace")
        if not hmac.compare_digest(supplied, expected):
            logger.warning("action_server.call.refused reason=token path_known=%s", request.path in ("/webhook",))
            return response.json({"error": "missing or wrong bearer token"}, status=401)
        return None

    plugin_manager().hook.attach_sanic_app_extensions(app=app)
    return app


def _arguments(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bot.action_server", description=__doc__.split("\n")[0])
    parser.add_argument("--actions", default="actions", help="the package of actions to serve")
    parser.add_argument("--port", type=int, default=5055)
    parser.add_argument("--host", default=None, help="interface (default: $ACTION_SERVER_HOST or 127.0.0.1)")
    parser.add_argument("--logging-config-file", default=None, help="a logging configuration (YAML)")
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = _arguments(argv)
    from rasa_sdk import utils
    from rasa_sdk.constants import APPLICATION_ROOT_LOGGER_NAME

    utils.configure_colored_logging(logging.INFO)
    utils.configure_file_logging(
        logging.getLogger(APPLICATION_ROOT_LOGGER_NAME), None, logging.INFO, args.logging_config_file
    )
    utils.update_sanic_log_level()
    settings = get_settings()
    app = secured_app(args.actions, action_server_token(settings))
    host = args.host or settings.action_server_host
    logger.info("action_server.started host=%s port=%d", host, args.port)
    app.run(host, args.port, workers=utils.number_of_sanic_workers())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
