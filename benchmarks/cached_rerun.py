"""Cached rerun and Dask runner of ``python -m flows.prepare`` on the demo data.

Three runs against one real Prefect server (so each pays the same orchestration costs),
sharing one PREFECT_HOME (its result store holds the task cache):

0. the demo inputs are generated (not timed)
1. first run, thread runner, empty cache            -> dataset A
2. the same command again on unchanged input          -> dataset B  (cache hits)
3. the same input with ``--task-runner dask``          -> dataset C  (cache cleared first)

It prints wall times, the flow runs' own durations from the Prefect API, the ratios to the
first run, and which files of B and C differ from A (the dataset_info.json file list:
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

from tasks.demo import demo_inputs
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


def _files(dataset: Path) -> dict[str, Any]:
    info = json.loads((dataset / "dataset_info.json").read_text())
    return {item["path"]: (item["bytes"], item["sha256"]) for item in info["files"]}


def _differences(left: Path, right: Path) -> list[str]:
    """Paths whose presence, size or sha256 differ between two published datasets."""
    a, b = _files(left), _files(right)
    return sorted(path for path in a.keys() | b.keys() if a.get(path) != b.get(path))


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
        # inputs exist before the first run, so no run pays for generating them
        source, annotations = demo_inputs(workdir / "demo-data")
        inputs = [
            "--source",
            source,
            *(arg for uri in annotations for arg in ("--annotations", uri)),
        ]
        first = _run_prepare(env, workdir / "a", "bench", *inputs)
        rerun = _run_prepare(env, workdir / "b", "bench", *inputs)
        shutil.rmtree(workdir / "prefect-client" / "storage", ignore_errors=True)
        dask = _run_prepare(env, workdir / "c", "bench", *inputs, "--task-runner", "dask")
        flow_first, flow_rerun, flow_dask = _flow_run_seconds(server.url, "bench", 3)
    finally:
        server.stop()

    rerun_diff = _differences(workdir / "a" / "bench", workdir / "b" / "bench")
    dask_diff = _differences(workdir / "a" / "bench", workdir / "c" / "bench")
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
    print(
        f"files differing from the first run: rerun {rerun_diff or 'none'}, "
        f"dask {dask_diff or 'none'}"
    )
    print(f"workdir: {workdir}")
    if rerun_diff or dask_diff:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
