"""Task-runner choice for the flows: Prefect's thread pool (default) or a Dask cluster.

Flows stay the same; the CLI or a deployment picks the runner and applies it with
``my_flow.with_options(task_runner=make_task_runner(kind, address))``.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

RUNNER_KINDS = ("threads", "dask")
DEFAULT_DASK_CLUSTER: dict[str, Any] = {
    "n_workers": 2,
    "threads_per_worker": 1,
    "processes": True,
    "dashboard_address": ":0",  # None still binds 8787; ":0" takes a free port
}


def check_runner_kind(kind: str) -> str:
    """Return ``kind`` when it names a runner; raise before any work otherwise."""
    if kind not in RUNNER_KINDS:
        raise ValueError(f"task runner must be one of {', '.join(RUNNER_KINDS)}, got {kind!r}")
    return kind


def dask_temporary_directory(base: Path | None = None) -> Path:
    """Dask's spill/scratch folder: ``DASK_TEMPORARY_DIRECTORY`` or a droneprep temp dir.

    Sets the variable (worker processes inherit it) and Dask's config in this process.
    """
    import dask

    chosen = os.environ.get("DASK_TEMPORARY_DIRECTORY") or str(
        base or Path(tempfile.gettempdir()) / "droneprep-dask"
    )
    Path(chosen).mkdir(parents=True, exist_ok=True)
    os.environ["DASK_TEMPORARY_DIRECTORY"] = chosen
    dask.config.set({"temporary-directory": chosen})
    return Path(chosen)


def make_task_runner(
    kind: str = "threads",
    address: str | None = None,
    *,
    max_workers: int | None = None,
    cluster_kwargs: dict[str, Any] | None = None,
) -> Any:
    """Prefect's ``ThreadPoolTaskRunner`` or prefect-dask's ``DaskTaskRunner``.

    ``dask`` without ``address`` starts a ``LocalCluster`` (two single-thread worker
    processes, dashboard on a free port) for the flow run; with ``address``
    (``tcp://host:8786``) it uses that remote scheduler. Dask worker processes talk to
    ``PREFECT_API_URL``; without it each starts a temporary server, which is slow.
    """
    check_runner_kind(kind)
    if kind == "threads":
        if address:
            raise ValueError(f"a scheduler address needs the dask runner, got {address!r}")
        from prefect.task_runners import ThreadPoolTaskRunner

        return ThreadPoolTaskRunner(max_workers=max_workers)
    from prefect_dask import DaskTaskRunner

    dask_temporary_directory()
    from prefect.settings import get_current_settings

    if not get_current_settings().api.url:
        logger.warning(
            "Dask runner without PREFECT_API_URL: each worker process starts its own temporary "
            "Prefect server; point the run at a Prefect server for speed"
        )
    if address:
        if cluster_kwargs:
            raise ValueError("give either a scheduler address or cluster settings, not both")
        return DaskTaskRunner(address=address)
    return DaskTaskRunner(cluster_kwargs={**DEFAULT_DASK_CLUSTER, **(cluster_kwargs or {})})
