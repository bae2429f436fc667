"""prepare-dataset through a real Prefect server: deploy from prefect.yaml, trigger it, run
a process worker once, wait for COMPLETED, read the run's artifacts through the API.

The worker starts in a scratch folder: the deployment's pull step moves the flow run into
the checkout. The flow records to a real MLflow server and publishes the demo dataset.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import servers

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
POOL = "droneprep-process"
DEPLOYMENT = "prepare-dataset"
OWN_PACKAGES = {"flows", "tasks", "expectations"}


def _why_prepare_cannot_run() -> str | None:
    if not (ROOT / "flows" / "prepare.py").exists():
        return "flows/prepare.py is not on this branch yet: nothing to deploy"
    try:
        importlib.import_module("flows.prepare")
    except ModuleNotFoundError as error:
        if (error.name or "").split(".")[0] in OWN_PACKAGES:
            return f"flows/prepare.py imports {error.name}, which is not on this branch yet"
        raise
    return None


def _env_file(path: Path) -> dict[str, str]:
    pairs = (
        line.split("=", 1)
        for line in path.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    )
    return {name.strip(): value.strip() for name, value in pairs}


def _cli(args: list[str], env: dict[str, str], cwd: Path, timeout_s: float) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "prefect", "--no-prompt", *args],
        env=env, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=timeout_s, check=False,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"prefect {' '.join(args)} exited {done.returncode}:\n{output}"
    return output


@pytest.fixture
def mlflow_uri(request: pytest.FixtureRequest) -> str:
    """Skip before any server starts when the flow cannot run on this branch yet."""
    reason = _why_prepare_cannot_run()
    if reason:
        pytest.skip(reason)
    return request.getfixturevalue("mlflow_server_uri")


@pytest.fixture
def prefect_env(
    mlflow_uri: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[dict[str, str]]:
    """Environment of `prefect deploy` and of the worker, everything under ``tmp_path``."""
    prefect_api_url = request.getfixturevalue("prefect_api_url")
    from prefect.settings import PREFECT_API_URL, temporary_settings

    env = {
        **os.environ,
        **_env_file(ROOT / "deployments" / "env" / "demo.env"),
        "PREFECT_API_URL": prefect_api_url,
        "PREFECT_HOME": str(tmp_path / "prefect-client"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_CLI_PROMPT": "false",
        "GX_ANALYTICS_ENABLED": "false",
        "DRONEPREP_CHECKOUT": str(ROOT),
        "DRONEPREP_DEMO_ROOT": str(tmp_path / "demo-data"),
        "DRONEPREP_DEST": str(tmp_path / "datasets"),
        "DRONEPREP_REPORT_ROOT": str(tmp_path / "reports"),
        "DRONEPREP_WORKDIR": str(tmp_path),
        "MLFLOW_TRACKING_URI": mlflow_uri,
        "DASK_TEMPORARY_DIRECTORY": str(tmp_path / "dask"),
    }
    with temporary_settings({PREFECT_API_URL: prefect_api_url}):
        yield env
        servers.drain_prefect_clients()


def _deploy_and_trigger(env: dict[str, str]) -> tuple[Any, dict[str, Any]]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName

    _cli(["work-pool", "create", POOL, "--type", "process", "--overwrite"], env, ROOT, 120)
    _cli(["deploy", "--name", DEPLOYMENT], env, ROOT, 300)
    with get_client(sync_client=True) as client:
        (deployment,) = client.read_deployments(
            deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=[DEPLOYMENT]))
        )
        run = client.create_flow_run_from_deployment(deployment.id)
    return run.id, deployment.parameters


def _run_worker_until_final(run_id: Any, env: dict[str, str], cwd: Path) -> tuple[Any, str]:
    """`worker start --run-once` takes runs due within 10 s; repeat until ours is final."""
    from prefect.client.orchestration import get_client

    worker = ["worker", "start", "--pool", POOL, "--work-queue", "prepare", "--run-once"]
    logs = []
    for _ in range(3):
        logs.append(_cli([*worker, "--install-policy", "never"], env, cwd, 900))
        with get_client(sync_client=True) as client:
            flow_run = client.read_flow_run(run_id)
        if flow_run.state is not None and flow_run.state.is_final():
            return flow_run, "\n".join(logs)
        time.sleep(2)
    return flow_run, "\n".join(logs)


def test_prepare_deployment_runs_on_a_process_worker(
    prefect_env: dict[str, str], mlflow_uri: str, tmp_path: Path
) -> None:
    from mlflow.tracking import MlflowClient
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    scratch = tmp_path / "worker-cwd"
    scratch.mkdir()
    run_id, deployed_parameters = _deploy_and_trigger(prefect_env)
    assert deployed_parameters["params"]["source"] == ""  # templated from demo.env

    flow_run, worker_log = _run_worker_until_final(run_id, prefect_env, scratch)
    assert flow_run.state.is_completed(), f"{flow_run.state!r}\n{worker_log[-4000:]}"

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]))
        )
    by_key = {artifact.key: artifact for artifact in artifacts if artifact.key}
    assert "prepare-summary" in by_key, sorted(by_key)
    summary = str(by_key["prepare-summary"].data)

    (info_path,) = (tmp_path / "datasets").glob("*/dataset_info.json")
    info = json.loads(info_path.read_text())
    assert info["name"] in summary
    assert str(info_path.parent) in summary
    assert (info_path.parent / "data.yaml").is_file()
    assert info["splits"]["train"]["images"] > 0
    assert info["tracking_uri"] == mlflow_uri

    run = MlflowClient(tracking_uri=mlflow_uri).get_run(info["mlflow_run_id"])
    assert run.data.tags["droneprep.stage"] == "prepare"
    assert run.data.tags["droneprep.dataset"] == info["name"]
    (dataset_input,) = run.inputs.dataset_inputs
    assert dataset_input.dataset.digest == info["files_digest"][:32]
