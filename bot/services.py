"""Throwaway Redis and PostgreSQL for a machine where nobody set them up.

``make test`` (through ``tests/conftest.py``) and ``make cluster`` need a Redis and a PostgreSQL.
When the one they are pointed at does not answer, ``ensure_redis`` / ``ensure_postgres`` install
Debian's package if the program is missing (as the Makefile does for Chromium), start a private
instance under ``.run/services-<pid>/`` on a free port, with no persistence worth keeping (Redis
without snapshots, PostgreSQL with ``fsync=off``), and hand back its URL; ``LocalService.stop``
ends it and removes its files. A service that answers is used as it is and never touched.
"""

from __future__ import annotations

import glob
import logging
import os
import pwd
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional
from urllib.parse import urlparse, urlunparse

__all__ = [
    "LocalService",
    "ensure_postgres",
    "ensure_redis",
    "free_port",
    "postgres_reachable",
    "redis_reachable",
    "start_postgres",
    "start_redis",
]

logger = logging.getLogger(__name__)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LocalService:
    """A private Redis or PostgreSQL this process started (``process`` None: one already running)."""

    name: str
    url: str
    process: Optional[subprocess.Popen] = None
    directory: Optional[Path] = None
    stopped: bool = field(default=False, init=False)
    # How it was started, so that a fault test can stop it and start it again on the same port.
    argv: List[str] = field(default_factory=list)
    options: Dict[str, Any] = field(default_factory=dict)

    @property
    def started_here(self) -> bool:
        return self.process is not None

    def halt(self) -> None:
        """Stop the process and keep its files (a crash or restart of the service, for fault tests)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        logger.info("services.halted name=%s", self.name)

    def resume(self) -> None:
        """Start it again, as it was started, on the same port; return once it answers."""
        if self.process is None or not self.argv:
            raise RuntimeError(f"{self.name} was not started here: it cannot be started again")
        options = dict(self.options)
        log = options.pop("log", None)
        stderr = open(log, "a") if log else subprocess.DEVNULL  # noqa: SIM115 - the child keeps it
        self.process = subprocess.Popen(self.argv, stdout=subprocess.DEVNULL, stderr=stderr, **options)  # noqa: S603
        reachable = redis_reachable if self.name == "redis" else postgres_reachable
        _wait(lambda: reachable(self.url), self.process, self.name)
        logger.info("services.resumed name=%s", self.name)

    def stop(self) -> None:
        if self.process is None or self.stopped:
            return
        self.stopped = True
        self.process.terminate()  # PostgreSQL: "smart" shutdown would wait for clients; SIGTERM is "fast"
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            try:
                self.directory.parent.rmdir()  # .run/services-<pid>, once both are gone
            except OSError:
                pass
        logger.info("services.stopped name=%s", self.name)


def redis_reachable(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2).ping())
    except (redis.RedisError, OSError, ValueError):
        return False


def _postgres_server_url(url: str) -> str:
    """The same server, database "postgres" (always there), for checking and CREATE DATABASE."""
    return urlunparse(urlparse(url)._replace(path="/postgres", query=""))


def postgres_reachable(url: str) -> bool:
    """The server answers (the database itself is created by ``ensure_postgres`` when missing)."""
    import psycopg2

    try:
        psycopg2.connect(_postgres_server_url(url), connect_timeout=2).close()
        return True
    except psycopg2.Error:
        return False


def _create_database(url: str) -> None:
    import psycopg2
    from psycopg2 import sql

    name = urlparse(url).path.lstrip("/") or "postgres"
    connection = psycopg2.connect(_postgres_server_url(url), connect_timeout=5)
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cursor.fetchone() is None:
                cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    finally:
        connection.close()


def _apt_install(package: str) -> None:
    """Debian's package, as the Makefile installs Chromium (sudo when not root)."""
    prefix: List[str] = [] if os.geteuid() == 0 else ["sudo"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    print(f"Installing Debian's {package} (not found on this machine)", flush=True)
    subprocess.run([*prefix, "apt-get", "update", "-qq"], check=True, env=env)  # noqa: S603 - fixed arguments
    subprocess.run([*prefix, "apt-get", "install", "-y", "-qq", package], check=True, env=env)  # noqa: S603


def _program(name: str, package: str, extra_globs: tuple = ()) -> str:
    def find() -> Optional[str]:
        found = shutil.which(name)
        if found:
            return found
        for pattern in extra_globs:
            matches = sorted(glob.glob(pattern))
            if matches:
                return matches[-1]  # the newest version directory
        return None

    path = find()
    if path is None:
        _apt_install(package)
        path = find()
    if path is None:
        raise RuntimeError(f"{name} is missing and installing {package} did not provide it")
    return path


def _services_dir(root: Path, name: str) -> Path:
    directory = root / ".run" / f"services-{os.getpid()}" / name
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    return directory


def _wait(check: object, process: subprocess.Popen, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with status {process.returncode}")
        if check():  # type: ignore[operator]
            return
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"{what} did not answer within {timeout:.0f} s")


def ensure_redis(url: str, root: Path) -> LocalService:
    """``url`` if its Redis answers, else a throwaway Redis (same database number) on a free port."""
    if redis_reachable(url):
        return LocalService("redis", url)
    return start_redis(url, root)


def start_redis(url: str, root: Path, name: str = "redis") -> LocalService:
    """A throwaway Redis on a free port, always (``url`` gives the database number); ``name``
    keeps two of them in one process apart under ``.run/services-<pid>/``."""
    server = _program("redis-server", "redis-server")
    directory = _services_dir(root, name)
    port = free_port()
    argv = [server, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"]
    argv += ["--dir", str(directory), "--logfile", str(directory / "redis.log")]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
    # The throwaway server has no password: drop any from the URL.
    new_url = urlunparse(urlparse(url)._replace(netloc=f"127.0.0.1:{port}"))
    _wait(lambda: redis_reachable(new_url), process, "redis-server")
    print(f"Started a throwaway Redis for the tests: {new_url} (pid {process.pid})", flush=True)
    return LocalService("redis", new_url, process, directory, argv=argv)


def _postgres_user() -> Optional[str]:
    """PostgreSQL refuses to run as root: as root, run it as the "postgres" user Debian creates."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
        return "postgres"
    except KeyError:
        return "nobody"


def ensure_postgres(url: str, root: Path) -> LocalService:
    """``url`` if its server answers (creating the database when missing), else a throwaway
    PostgreSQL (trust authentication, user "postgres", the same database name) on a free port."""
    if postgres_reachable(url):
        _create_database(url)
        return LocalService("postgresql", url)
    return start_postgres(url, root)


def start_postgres(url: str, root: Path, name: str = "postgresql") -> LocalService:
    """A throwaway PostgreSQL on a free port, always, with ``url``'s database created."""
    bindirs = ("/usr/lib/postgresql/*/bin/{}",)
    initdb = _program("initdb", "postgresql", tuple(p.format("initdb") for p in bindirs))
    postgres = str(Path(initdb).resolve().parent / "postgres")
    directory = _services_dir(root, name)
    data, sockets = directory / "data", directory / "sockets"
    sockets.mkdir()
    user = _postgres_user()
    if user:
        record = pwd.getpwnam(user)
        for path in (directory, sockets):
            os.chown(path, record.pw_uid, record.pw_gid)
    subprocess.run(  # noqa: S603 - our own arguments
        [initdb, "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"],
        check=True,
        stdout=subprocess.DEVNULL,
        user=user,
        cwd=directory,
    )
    port = free_port()
    argv = [postgres, "-D", str(data), "-p", str(port), "-k", str(sockets)]
    argv += ["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "full_page_writes=off"]
    argv += ["-c", "synchronous_commit=off", "-c", "max_connections=200"]
    options: Dict[str, Any] = {"user": user, "cwd": directory, "log": directory / "postgres.log"}
    process = subprocess.Popen(  # noqa: S603 - our own arguments
        argv,
        stdout=subprocess.DEVNULL,
        stderr=open(directory / "postgres.log", "w"),  # noqa: SIM115 - the child keeps it
        user=user,
        cwd=directory,
    )
    parsed = urlparse(url)
    new_url = urlunparse(parsed._replace(netloc=f"postgres@127.0.0.1:{port}"))
    _wait(lambda: postgres_reachable(new_url), process, "postgres")
    _create_database(new_url)
    print(f"Started a throwaway PostgreSQL for the tests: {new_url} (pid {process.pid})", flush=True)
    return LocalService("postgresql", new_url, process, directory, argv=argv, options=options)
