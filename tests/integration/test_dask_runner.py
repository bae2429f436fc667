"""The same flow on Prefect's thread pool and on a Dask LocalCluster gives the same result.

Dask worker processes report to a real Prefect server (without one, each would start its
own temporary server on one sqlite file: slow and fragile).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from prefect import flow, task

from tasks.runners import make_task_runner
from tests import servers

pytestmark = pytest.mark.integration


@task
def digest_batch(batch: list[int]) -> tuple[str, int]:
    """Hash a batch and report the worker process that did it."""
    payload = ",".join(str(item) for item in batch).encode()
    return hashlib.sha256(payload).hexdigest(), os.getpid()


@flow
def digest_batches(batches: list[list[int]]) -> list[tuple[str, int]]:
    return digest_batch.map(batches).result()


@pytest.fixture
def prefect_client_env(
    prefect_api_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Point this process and the Dask workers it spawns at the real server."""
    from prefect.settings import PREFECT_API_URL, PREFECT_HOME, temporary_settings

    home = tmp_path / "prefect-client"
    monkeypatch.setenv("PREFECT_API_URL", prefect_api_url)
    monkeypatch.setenv("PREFECT_HOME", str(home))
    monkeypatch.setenv("DASK_TEMPORARY_DIRECTORY", str(tmp_path / "dask"))
    with temporary_settings({PREFECT_API_URL: prefect_api_url, PREFECT_HOME: home}):
        yield
        servers.drain_prefect_clients()


def test_dask_runner_matches_thread_runner(prefect_client_env: None) -> None:
    batches = [list(range(start, start + 50)) for start in range(0, 400, 50)]
    threads = digest_batches.with_options(task_runner=make_task_runner("threads"))(batches)
    dask = digest_batches.with_options(task_runner=make_task_runner("dask"))(batches)

    assert [digest for digest, _ in dask] == [digest for digest, _ in threads]
    assert {pid for _, pid in threads} == {os.getpid()}
    dask_pids = {pid for _, pid in dask}
    assert os.getpid() not in dask_pids, "Dask tasks ran in worker processes"
    assert 1 <= len(dask_pids) <= 2
