"""Start and stop real servers (mlflow, prefect, moto) on loopback for integration tests.

Each server runs in its own session (``start_new_session``, like ``setsid``) so stopping it
signals the whole process group: ``mlflow server`` alone starts about ten processes.
Output goes to a log file whose tail is shown when a server does not come up.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def log_tail(log_path: Path, lines: int = 30) -> str:
    if not log_path.exists():
        return f"(no log at {log_path})"
    return "\n".join(log_path.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class ServerProcess:
    """A server started by :func:`start_server`; ``url`` is what clients use."""

    name: str
    url: str
    process: subprocess.Popen
    log_path: Path

    def stop(self, grace_s: float = 10.0) -> None:
        """SIGTERM the process group, then SIGKILL what is left after ``grace_s``."""
        if self.process.poll() is not None:
            return
        pgid = self.process.pid  # leader of its own session and group
        try:
            os.killpg(pgid, signal.SIGTERM)
            self.process.wait(timeout=grace_s)
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            os.killpg(pgid, signal.SIGKILL)
            self.process.wait(timeout=grace_s)
        # children that outlive the leader are still in the group
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)


def wait_healthy(server: ServerProcess, health_url: str, timeout_s: float) -> None:
    """Poll ``health_url`` until it answers 200; raise with the log tail otherwise."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"{server.name} exited with {server.process.returncode} before answering "
                f"{health_url}; log {server.log_path}:\n{log_tail(server.log_path)}"
            )
        try:
            with urllib.request.urlopen(health_url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    server.stop()
    raise RuntimeError(
        f"{server.name} did not answer {health_url} within {timeout_s:g} s; "
        f"log {server.log_path}:\n{log_tail(server.log_path)}"
    )


def start_server(
    name: str,
    command: list[str],
    *,
    url: str,
    health_url: str,
    log_path: Path,
    env: Mapping[str, str] | None = None,
    timeout_s: float = 90.0,
) -> ServerProcess:
    """Run ``command`` in a new session, logging to ``log_path``; return once healthy."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **dict(env or {})},
            start_new_session=True,
        )
    server = ServerProcess(name=name, url=url, process=process, log_path=log_path)
    wait_healthy(server, health_url, timeout_s)
    return server


def start_mlflow_server(workdir: Path) -> ServerProcess:
    """``mlflow server`` with a sqlite backend and proxied artifacts under ``workdir``."""
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "mlflow", "server",
        "--host", LOOPBACK, "--port", str(port), "--workers", "1",
        "--backend-store-uri", f"sqlite:///{workdir.resolve() / 'mlflow.db'}",
        "--artifacts-destination", str(workdir.resolve() / "artifacts"),
    ]  # fmt: skip
    url = f"http://{LOOPBACK}:{port}"
    return start_server(
        "mlflow server", command, url=url, health_url=f"{url}/health",
        log_path=workdir / "mlflow-server.log",
    )  # fmt: skip


def prefect_server_env(home: Path) -> dict[str, str]:
    """Environment for a Prefect server with its own home (one sqlite file per server)."""
    return {
        "PREFECT_HOME": str(home.resolve()),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_CLI_PROMPT": "false",
    }


def start_prefect_server(home: Path) -> ServerProcess:
    """``prefect server start`` without UI; ``url`` is the API URL (``.../api``)."""
    port = free_port()
    home.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "prefect", "server", "start",
        "--host", LOOPBACK, "--port", str(port), "--analytics-off", "--no-ui",
    ]  # fmt: skip
    env = {**prefect_server_env(home), "PREFECT_API_URL": ""}
    url = f"http://{LOOPBACK}:{port}/api"
    return start_server(
        "prefect server", command, url=url, health_url=f"{url}/health",
        log_path=home / "prefect-server.log", env=env, timeout_s=120.0,
    )  # fmt: skip


def start_moto_server(workdir: Path) -> ServerProcess:
    """``moto.server`` (all services) for out-of-process S3 tests."""
    port = free_port()
    command = [sys.executable, "-m", "moto.server", "-H", LOOPBACK, "-p", str(port)]
    url = f"http://{LOOPBACK}:{port}"
    return start_server(
        "moto server", command, url=url, health_url=f"{url}/moto-api/",
        log_path=workdir / "moto-server.log",
    )  # fmt: skip


def drain_prefect_clients() -> None:
    """Send this process's queued Prefect logs and events before a server goes away.

    Without it the log worker retries against a stopped server at interpreter exit
    ("Error logging to API") for about a minute. Same steps as ``prefect_test_harness``.
    """
    import inspect

    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker
    from prefect.utilities.asyncutils import run_coro_as_sync

    async def drain() -> None:
        try:
            result = APILogWorker.instance().drain()
            if inspect.isawaitable(result):
                await result
        except RuntimeError:  # the log worker never started
            pass
        result = EventsWorker.drain_all()
        if inspect.isawaitable(result):
            await result

    run_coro_as_sync(drain())
