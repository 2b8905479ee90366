"""``make cluster INSTANCES=N``: the assistant laid out as production runs it, on one machine.

N Rasa servers and N action servers, the counselor console, and HAProxy in front (Debian's
package, installed when missing), sharing Redis (conversation locks, conversations,
de-duplication, the widget's socket.io manager, case events) and PostgreSQL (cases). HAProxy:

* ``frontend amaan`` (the URL printed as ``Load balancer:``): round robin over the Rasa servers,
  health-checked every second (``GET /``), a server that refuses a connection skipped
  (``option redispatch``), and a cookie that keeps the widget's socket.io session on one server;
* ``frontend actions``: the Rasa servers' action calls, round robin over the action servers
  (``GET /health``), so a dead action server is skipped by every Rasa server.

``REDIS_URL`` and ``DATABASE_URL`` name the shared services; without them, the machine's Redis on
127.0.0.1:6379 and PostgreSQL on 127.0.0.1:5432 (database ``amaan_cluster``), or throwaway ones
(``bot.services``) when those do not answer. Every process is started again when it dies
(``bot.supervise``); Ctrl-C stops them all. docs/SCALING.md maps the layout to Kubernetes.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from string import Template
from typing import IO, List, Optional

from bot.services import LocalService, ensure_postgres, ensure_redis, free_port
from bot.settings import PROJECT_ROOT, get_settings
from bot.supervise import Restartable, supervise

__all__ = ["Cluster", "haproxy_config", "haproxy_program", "main", "start_cluster"]

TEMPLATE = PROJECT_ROOT / "scripts" / "haproxy.cfg.template"
HAPROXY = "/usr/sbin/haproxy"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/amaan_cluster"


def haproxy_program() -> str:
    """Debian's HAProxy, installed (as ``make test`` installs Chromium) when missing."""
    found = shutil.which("haproxy") or (HAPROXY if Path(HAPROXY).exists() else None)
    if found:
        return found
    from bot.services import _apt_install

    _apt_install("haproxy")
    found = shutil.which("haproxy") or (HAPROXY if Path(HAPROXY).exists() else None)
    if not found:
        raise RuntimeError("haproxy is missing and installing Debian's haproxy did not provide it")
    return found


def haproxy_config(port: int, actions_port: int, rasa_ports: List[int], action_ports: List[int]) -> str:
    check = "check inter 1s fall 3 rise 1"
    rasa = "\n".join(f"    server rasa{i} 127.0.0.1:{p} {check} cookie r{i}" for i, p in enumerate(rasa_ports))
    actions = "\n".join(f"    server actions{i} 127.0.0.1:{p} {check}" for i, p in enumerate(action_ports))
    return Template(TEMPLATE.read_text(encoding="utf-8")).substitute(
        bind="127.0.0.1", port=port, actions_port=actions_port, rasa_servers=rasa, action_servers=actions
    )


@dataclass
class Cluster:
    """The processes of a running cluster (replaced in place when the supervisor restarts one)."""

    url: str  # the load balancer
    port: int
    actions_port: int
    processes: List[subprocess.Popen]
    run_dir: Path
    services: List[LocalService] = field(default_factory=list)

    def of(self, role: str) -> List[Restartable]:
        return [p for p in self.processes if isinstance(p, Restartable) and p.role == role]

    def lines(self) -> List[str]:
        # A campaign worker listens on no port: "-" rather than "None".
        return [
            f"{p.role:<15} port {p.port if p.port is not None else '-':<5}  pid {p.pid}"
            for p in self.processes
            if isinstance(p, Restartable)
        ]

    def stop(self) -> None:
        from bot.run import stop

        stop(self.processes)
        for service in self.services:
            service.stop()


def start_cluster(
    instances: int,
    model: Path,
    run_dir: Path,
    output: Optional[IO] = None,
    console_port: Optional[int] = None,
) -> Cluster:
    """Start ``instances`` Rasa servers and as many action servers, the console (given
    ``console_port``) and HAProxy; return at once (``wait_until_ready`` tells when all answer).
    ``REDIS_URL`` and ``DATABASE_URL`` must name the shared services."""
    from bot.run import start

    settings = get_settings()
    if not settings.redis_url or not settings.database_url:
        raise ValueError("a cluster needs REDIS_URL and DATABASE_URL (shared by every server)")
    port, actions_port = free_port(), free_port()
    # The console delivers counselors' messages through the balancer, like any other client.
    os.environ["RASA_SERVER_URL"] = os.environ.get("RASA_SERVER_URL") or f"http://localhost:{port}"
    run_dir.mkdir(parents=True, exist_ok=True)
    processes: List[subprocess.Popen] = []
    for i in range(instances):
        processes += start(
            free_port(),
            free_port(),
            model,
            output=output,
            run_dir=run_dir,  # one directory: the same configuration and development keys for all
            console_port=console_port if i == 0 else None,
            action_endpoint_port=actions_port,  # every Rasa server calls the action servers through HAProxy
        )
    ports = {
        role: [p.port or 0 for p in processes if isinstance(p, Restartable) and p.role == role]
        for role in ("rasa", "actions")
    }
    config = run_dir / "haproxy.cfg"
    config.write_text(haproxy_config(port, actions_port, ports["rasa"], ports["actions"]), encoding="utf-8")
    processes.append(
        Restartable("haproxy", [haproxy_program(), "-f", str(config), "-db"], port, stdout=output, stderr=output)
    )
    return Cluster(f"http://localhost:{port}", port, actions_port, processes, run_dir)


def shared_services() -> List[LocalService]:
    """REDIS_URL and DATABASE_URL for the cluster: the ones named, the machine's, or throwaway ones."""
    redis = ensure_redis(os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL, PROJECT_ROOT)
    postgres = ensure_postgres(os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL, PROJECT_ROOT)
    os.environ["REDIS_URL"], os.environ["DATABASE_URL"] = redis.url, postgres.url
    get_settings.cache_clear()
    return [redis, postgres]


def wait_until_ready(cluster: Cluster, timeout: float = 600) -> bool:
    from bot.run import wait_until_up

    paths = {"actions": "/health", "rasa": "/webhooks/rest/", "console": "/console/health"}
    for process in cluster.processes:
        if not isinstance(process, Restartable) or process.role not in paths:
            continue
        if not wait_until_up(f"http://localhost:{process.port}{paths[process.role]}", cluster.processes, timeout):
            return False
    return wait_until_up(f"{cluster.url}/webhooks/rest/", cluster.processes, 30)


def main(instances: int) -> int:
    from bot.model import ensure_model

    if instances < 1:
        print("INSTANCES must be at least 1", file=sys.stderr)
        return 2
    services = shared_services()
    model = ensure_model()
    cluster = start_cluster(
        instances, model, PROJECT_ROOT / ".run" / "cluster", console_port=get_settings().console_port
    )
    cluster.services = services
    stopping = {"now": False}

    def on_sigterm(*_: object) -> None:
        stopping["now"] = True

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        if not wait_until_ready(cluster):
            print("A server failed to start; see the output above.", file=sys.stderr)
            return 1
        print(f"\nLoad balancer: {cluster.url}", flush=True)
        print(f"  REST channel: {cluster.url}/webhooks/rest/webhook", flush=True)
        print(f"  Demo page:    {cluster.url}/webhooks/web/demo", flush=True)
        for line in cluster.lines():
            print(f"  {line}", flush=True)
        print("Every process is started again when it dies; Ctrl-C stops them all.", flush=True)
        supervise(cluster.processes, keep_going=lambda: not stopping["now"])
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        cluster.stop()
