"""Task-runner choice: thread pool by default, Dask LocalCluster or a remote scheduler."""

from __future__ import annotations

from pathlib import Path

import pytest
from prefect.task_runners import ThreadPoolTaskRunner
from prefect_dask import DaskTaskRunner

from tasks.runners import DEFAULT_DASK_CLUSTER, make_task_runner


@pytest.fixture(autouse=True)
def _scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DASK_TEMPORARY_DIRECTORY", str(tmp_path / "scratch"))
    return tmp_path / "scratch"


def test_default_is_prefects_thread_pool() -> None:
    runner = make_task_runner()
    assert type(runner) is ThreadPoolTaskRunner


def test_dask_local_cluster_defaults(tmp_path: Path) -> None:
    runner = make_task_runner("dask")
    assert isinstance(runner, DaskTaskRunner)
    assert runner.address is None
    assert runner.cluster_kwargs == DEFAULT_DASK_CLUSTER
    assert DEFAULT_DASK_CLUSTER["dashboard_address"] == ":0"
    assert (tmp_path / "scratch").is_dir()


def test_dask_remote_scheduler() -> None:
    runner = make_task_runner("dask", "tcp://10.0.0.5:8786")
    assert runner.address == "tcp://10.0.0.5:8786"
    assert not runner.cluster_kwargs


def test_dask_temporary_directory_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import dask

    monkeypatch.delenv("DASK_TEMPORARY_DIRECTORY")
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    make_task_runner("dask")
    assert dask.config.get("temporary-directory") == str(tmp_path / "droneprep-dask")


@pytest.mark.parametrize(
    ("kind", "address", "cluster_kwargs", "message"),
    [
        ("processes", None, None, "task runner must be one of threads, dask, got 'processes'"),
        ("threads", "tcp://127.0.0.1:8786", None, "needs the dask runner"),
        ("dask", "tcp://127.0.0.1:8786", {"n_workers": 4}, "not both"),
    ],
)
def test_bad_runner_configuration_raises(
    kind: str, address: str | None, cluster_kwargs: dict | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        make_task_runner(kind, address, cluster_kwargs=cluster_kwargs)
