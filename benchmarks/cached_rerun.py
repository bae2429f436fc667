"""Cached rerun and Dask runner of ``python -m flows.prepare`` on the demo data.

Three runs against one real Prefect server (so each pays the same orchestration costs),
sharing one PREFECT_HOME (its result store holds the task cache):

1. first run, thread runner, empty cache            -> dataset A
2. the same command again on unchanged input          -> dataset B  (cache hits)
3. the same input with ``--task-runner dask``          -> dataset C  (cache cleared first)

It prints wall times, the flow runs' own durations from the Prefect API, the rerun ratio,
and whether A, B and C have the same files byte for byte (the dataset_info.json file list:
path, size, sha256 of every file but dataset_info.json itself, which holds run ids).

    /work/venv/bin/python -m benchmarks.cached_rerun [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests import servers

ROOT = Path(__file__).resolve().parents[1]


def _run_prepare(env: dict[str, str], dest: Path, name: str, *extra: str) -> float:
    command = [sys.executable, "-m", "flows.prepare", "--dest", str(dest), "--name", name, *extra]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} exited {done.returncode}:\n{done.stderr[-4000:]}")
    return seconds


def _flow_run_seconds(api_url: str, name: str, count: int) -> list[float]:
    """Durations of the last ``count`` flow runs for dataset ``name``, oldest first."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.sorting import FlowRunSort
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: api_url}), get_client(sync_client=True) as client:
        runs = client.read_flow_runs(sort=FlowRunSort.START_TIME_DESC, limit=50)
    durations = [
        run.total_run_time.total_seconds()
        for run in runs
        if (run.parameters.get("params") or {}).get("name") == name
    ]
    return list(reversed(durations[:count]))


def _file_list(dataset: Path) -> list[Any]:
    info = json.loads((dataset / "dataset_info.json").read_text())
    return [info["files_digest"], info["files"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=None)
    workdir = parser.parse_args().workdir or Path(tempfile.mkdtemp(prefix="droneprep-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    server = servers.start_prefect_server(workdir / "prefect-server")
    try:
        env = {
            **os.environ,
            **servers.prefect_server_env(workdir / "prefect-client"),
            "PREFECT_API_URL": server.url,
            "DRONEPREP_DEMO_ROOT": str(workdir / "demo-data"),
            "DRONEPREP_REPORT_ROOT": str(workdir / "reports"),
            "DRONEPREP_WORKDIR": str(workdir),
            "DASK_TEMPORARY_DIRECTORY": str(workdir / "dask"),
        }
        env.pop("MLFLOW_TRACKING_URI", None)
        first = _run_prepare(env, workdir / "a", "bench")
        rerun = _run_prepare(env, workdir / "b", "bench")
        shutil.rmtree(workdir / "prefect-client" / "storage", ignore_errors=True)
        dask = _run_prepare(env, workdir / "c", "bench", "--task-runner", "dask")
        flow_first, flow_rerun, flow_dask = _flow_run_seconds(server.url, "bench", 3)
    finally:
        server.stop()

    same_rerun = _file_list(workdir / "a" / "bench") == _file_list(workdir / "b" / "bench")
    same_dask = _file_list(workdir / "a" / "bench") == _file_list(workdir / "c" / "bench")
    rows = [
        ("first run (threads, empty cache)", first, flow_first),
        ("rerun on unchanged input", rerun, flow_rerun),
        ("dask runner (cache cleared)", dask, flow_dask),
    ]
    for label, wall_s, flow_s in rows:
        print(
            f"{label:34} {wall_s:6.1f} s wall ({wall_s / first:.2f}x)  "
            f"{flow_s:6.1f} s flow run ({flow_s / flow_first:.2f}x)"
        )
    print(f"rerun output identical: {same_rerun}; dask output identical: {same_dask}")
    print(f"workdir: {workdir}")
    if not (same_rerun and same_dask):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
