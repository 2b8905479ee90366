"""``make cluster INSTANCES=N``: the assistant laid out as production runs it, on one machine.

N Rasa servers and N action servers, the counselor console, and HAProxy in front (Debian's
package, installed when missing), sharing Redis (conversation locks, conversations,
de-duplication, the widget's socket.io manager, case events) and PostgreSQL (cases). HAProxy:

* ``frontend amaan`` (the URL printed as ``Load balancer:``): round robin over the Rasa servers,
  health-checked every second (``GET /``) and taken out at their first failed answer to a user
  (``observe layer7``: a server killed with ``kill -9`` still accepts connections for a moment), a
  server that refuses a connection skipped (``option redispatch``), and a cookie that keeps the
  widget's socket.io session on one server. The console's hand-over deliveries and Rasa's HTTP API,
  which a healthy server may answer 502 or 503, go to the same servers through a backend that
  follows the first one's view of them (``rasa_api``);
* ``frontend actions``: the Rasa servers' action calls, round robin over the action servers
  (``GET /health``), so a dead action server is skipped by every Rasa server.

``REDIS_URL`` and ``DATABASE_URL`` name the shared services; without them, the machine's Redis on
127.0.0.1:6379 and PostgreSQL on 127.0.0.1:5432 (database ``amaan_cluster``), or throwaway ones
(``bot.services``) when those do not answer. Every process is started again when it dies
(``bot.supervise``); Ctrl-C stops them all. HAProxy logs each request and each server it marks down
or up to ``haproxy.log`` in the run directory. docs/SCALING.md maps the layout to Kubernetes.
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
HAPROXY_LOG = "haproxy.log"  # in the run directory


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


# HAProxy's health checks of every server: one a second, down after 3 failures (a Rasa server busy
# with a message may not answer a check within 3 s), up again after 2 successes. A Rasa server is
# also taken out at its first failed answer to a user (``observe layer7`` in the template).
CHECK_INTER, CHECK_FALL, CHECK_RISE = "1s", 3, 2


def haproxy_config(port: int, actions_port: int, rasa_ports: List[int], action_ports: List[int]) -> str:
    rasa = "\n".join(f"    server rasa{i} 127.0.0.1:{p} cookie r{i}" for i, p in enumerate(rasa_ports))
    # the same servers and cookies, up or down as backend rasa says
    rasa_api = "\n".join(
        f"    server rasa{i} 127.0.0.1:{p} track rasa/rasa{i} cookie r{i}" for i, p in enumerate(rasa_ports)
    )
    actions = "\n".join(f"    server actions{i} 127.0.0.1:{p}" for i, p in enumerate(action_ports))
    return Template(TEMPLATE.read_text(encoding="utf-8")).substitute(
        bind="127.0.0.1",
        port=port,
        actions_port=actions_port,
        inter=CHECK_INTER,
        fall=CHECK_FALL,
        rise=CHECK_RISE,
        rasa_servers=rasa,
        rasa_api_servers=rasa_api,
        action_servers=actions,
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
    haproxy_output: Optional[IO] = None  # HAProxy's log, open for its restarts

    @property
    def haproxy_log(self) -> Path:
        """HAProxy's log: a line per request, and each server marked down or up, with the reason."""
        return self.run_dir / HAPROXY_LOG

    def of(self, role: str) -> List[Restartable]:
        return [p for p in self.processes if isinstance(p, Restartable) and p.role == role]

    def haproxy_name(self, process: Restartable) -> str:
        """The server's name in HAProxy's configuration and log ("rasa0", "actions1", …); a
        restarted process keeps its port and so its name."""
        ports = [p.port for p in self.of(process.role)]
        return f"{process.role}{ports.index(process.port)}"

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
        if self.haproxy_output is not None:
            self.haproxy_output.close()


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
    # HAProxy's log (its standard output, see the template) to a file of its own; its warnings and
    # errors (standard error) with the other processes' output
    log = open(run_dir / HAPROXY_LOG, "a", encoding="utf-8")  # noqa: SIM115 - closed by Cluster.stop
    processes.append(
        Restartable("haproxy", [haproxy_program(), "-f", str(config), "-db"], port, stdout=log, stderr=output)
    )
    return Cluster(f"http://localhost:{port}", port, actions_port, processes, run_dir, haproxy_output=log)


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
