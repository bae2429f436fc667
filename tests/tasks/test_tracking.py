"""MLflow tracking: URI resolution, key sanitising, fallback to local sqlite, a local run."""

from __future__ import annotations

import logging
import os
import socket
import time
from pathlib import Path

import pytest

from tasks import tracking
from tasks.tracking import (
    DEFAULT_EXPERIMENT,
    TAG_DATASET,
    TAG_FALLBACK_REASON,
    TAG_FILES_DIGEST,
    TAG_INTENDED_URI,
    TAG_STAGE,
    TrackingTarget,
    choose_tracking_target,
    local_tracking_uri,
    metric_key,
    needs_probe,
    resolve_tracking_uri,
    sanitize_keys,
)

ARN = "arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/drone-tracking"
DIGEST = "ab" * 32


@pytest.fixture(autouse=True)
def _fresh_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tracking, "_warned", set())
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(
    ("cli", "env", "expected"),
    [
        ("http://cli:5000", "http://env:5000", "http://cli:5000"),
        (None, "http://env:5000", "http://env:5000"),
        ("  ", "http://env:5000", "http://env:5000"),
        (None, None, "LOCAL"),
        ("", "", "LOCAL"),
    ],
)
def test_resolve_tracking_uri_order(
    cli: str | None,
    env: str | None,
    expected: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if env is not None:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", env)
    local = f"sqlite:///{tmp_path.resolve()}/mlflow.db"
    assert resolve_tracking_uri(cli, workdir=tmp_path) == (
        local if expected == "LOCAL" else expected
    )


@pytest.mark.parametrize(
    ("uri", "probed"),
    [
        ("http://127.0.0.1:5000", True),
        ("https://mlflow.example.org", True),
        (ARN, True),
        ("arn:aws:sagemaker:eu-west-1:123456789012:mlflow-app/app-1", True),
        ("sqlite:////tmp/mlflow.db", False),
        ("file:///tmp/mlruns", False),
    ],
)
def test_needs_probe(uri: str, probed: bool) -> None:
    assert needs_probe(uri) is probed


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        (("class_instances", "train", "car"), "class_instances/train/car"),
        (("class_instances", "val", "traffic light"), "class_instances/val/traffic light"),
        (("instances", "a/b"), "instances/a_b"),
        (("instances", "bus:big"), "instances/bus_big"),
        (("instances", "vélo"), "instances/v_lo"),
        (("instances", ".."), "instances/_"),
        (("instances", ""), "instances/_"),
    ],
)
def test_metric_key(parts: tuple[str, ...], expected: str) -> None:
    assert metric_key(*parts) == expected


def test_sanitize_keys_handles_collisions_in_sorted_order() -> None:
    values = {"n/car?": 3, "n/car!": 2, "n/car_": 1}
    assert sanitize_keys(values) == {"n/car_": 1, "n/car__2": 2, "n/car__3": 3}
    assert sanitize_keys(dict(reversed(values.items()))) == sanitize_keys(values)


def test_sanitize_keys_caps_length() -> None:
    keys = sanitize_keys({"x" * 300: 1, "x" * 301: 2})
    assert all(len(key) <= 250 for key in keys)
    assert len(keys) == 2


def test_target_tags_only_after_fallback() -> None:
    assert TrackingTarget("sqlite:///x.db", "sqlite:///x.db").tags() == {}
    fallback = TrackingTarget("sqlite:///x.db", ARN, "NoCredentialsError")
    assert fallback.tags() == {TAG_INTENDED_URI: ARN, TAG_FALLBACK_REASON: "NoCredentialsError"}


def test_local_uri_is_not_probed(tmp_path: Path) -> None:
    target = choose_tracking_target(None, workdir=tmp_path)
    assert target == TrackingTarget(local_tracking_uri(tmp_path), local_tracking_uri(tmp_path))


def _assert_fell_back(
    target: TrackingTarget,
    *,
    intended: str,
    tmp_path: Path,
    seconds: float,
    caplog: pytest.LogCaptureFixture,
    words: str,
) -> None:
    assert seconds < 10, f"fallback took {seconds:.1f} s"
    assert target.uri == local_tracking_uri(tmp_path)
    assert target.intended_uri == intended
    assert target.fell_back
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert intended in warnings[0].getMessage()
    assert words in warnings[0].getMessage()


def test_unreachable_server_falls_back_within_10s(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    uri = f"http://127.0.0.1:{_closed_port()}"
    caplog.set_level(logging.WARNING)
    started = time.monotonic()
    target = choose_tracking_target(uri, workdir=tmp_path)
    seconds = time.monotonic() - started
    _assert_fell_back(
        target, intended=uri, tmp_path=tmp_path, seconds=seconds, caplog=caplog, words="Connection"
    )
    # asking again in the same process does not warn a second time
    choose_tracking_target(uri, workdir=tmp_path)
    assert len([r for r in caplog.records if r.levelno >= logging.WARNING]) == 1


def test_arn_without_credentials_falls_back_within_10s(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", ARN)
    caplog.set_level(logging.WARNING)
    started = time.monotonic()
    target = choose_tracking_target(None, workdir=tmp_path)
    seconds = time.monotonic() - started
    _assert_fell_back(
        target, intended=ARN, tmp_path=tmp_path, seconds=seconds, caplog=caplog, words="credentials"
    )
    assert os.environ["MLFLOW_TRACKING_URI"] == ARN, "the probe must restore the environment"


def test_local_run_records_params_metrics_artifacts_and_fallback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from mlflow.tracking import MlflowClient

    local = local_tracking_uri(tmp_path)
    target = TrackingTarget(local, ARN, "NoCredentialsError: Unable to locate credentials")
    report = tmp_path / "report"
    report.mkdir()
    (report / "summary.md").write_text("# 3 images\n")
    caplog.set_level(logging.WARNING)
    with tracking.start_run(
        target, run_name="prepare-demo", stage="prepare", dataset_name="demo_set"
    ) as run_id:
        logged = tracking.log_params({"classes": ["car", "bus"], "seed": 42})
        metrics = tracking.log_metrics({metric_key("instances", "train", "car/suv"): 5})
        tracking.log_artifacts(report, "report")
        tracking.log_text('{"name": "demo_set"}', "dataset/dataset_info.json")
        tracking.log_dataset_input("s3://bucket/datasets/demo_set/", DIGEST, "demo_set")
    assert logged == {"classes": '["car", "bus"]', "seed": "42"}
    assert metrics == {"instances/train/car_suv": 5.0}

    client = MlflowClient(tracking_uri=local)
    run = client.get_run(run_id)
    assert client.get_experiment(run.info.experiment_id).name == DEFAULT_EXPERIMENT
    assert run.data.params == logged
    assert run.data.metrics == metrics
    assert run.data.tags[TAG_STAGE] == "prepare"
    assert run.data.tags[TAG_DATASET] == "demo_set"
    assert run.data.tags[TAG_INTENDED_URI] == ARN
    assert run.data.tags[TAG_FILES_DIGEST] == DIGEST
    artifacts = {a.path for a in client.list_artifacts(run_id, "report")}
    assert artifacts == {"report/summary.md"}
    assert run.info.artifact_uri.startswith((tmp_path / "mlartifacts").resolve().as_uri())
    assert list((tmp_path / "mlartifacts").rglob("summary.md"))
    (dataset_input,) = run.inputs.dataset_inputs
    assert dataset_input.dataset.name == "demo_set"
    assert dataset_input.dataset.digest == DIGEST[:32]
    assert "s3://bucket/datasets/demo_set/" in dataset_input.dataset.source
    assert not [r for r in caplog.records if "resolving request headers" in r.getMessage()]


def test_dataset_reference_needs_a_digest() -> None:
    with pytest.raises(ValueError, match="files digest"):
        tracking.dataset_reference("s3://bucket/datasets/x/", "", "x")


def _run_when(folder: str, start_at: float, results: object) -> None:
    """One process's first run in ``folder``'s local store, started at ``start_at``."""
    target = choose_tracking_target(None, workdir=Path(folder))
    while time.time() < start_at:
        time.sleep(0.001)
    try:
        with tracking.start_run(target, run_name="race") as run_id:
            tracking.log_metrics({"images": 1.0})
        results.put(run_id)  # type: ignore[attr-defined]
    except Exception as error:  # reported to the test, which fails with it
        results.put(f"{type(error).__name__}: {error}")  # type: ignore[attr-defined]


def test_first_runs_racing_on_a_new_local_store_all_succeed(tmp_path: Path) -> None:
    """Four processes open the same new ``mlflow.db`` at once; without the first-use lock
    MLflow's schema migration fails in all but one (seen in 3 of 3 trials before the fix)."""
    import multiprocessing

    from mlflow.tracking import MlflowClient

    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    start_at = time.time() + 10  # after every process has imported mlflow
    workers = [
        context.Process(target=_run_when, args=(str(tmp_path), start_at, results)) for _ in range(4)
    ]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    assert all(len(o) == 32 and o.isalnum() for o in outcomes), outcomes
    client = MlflowClient(tracking_uri=local_tracking_uri(tmp_path))
    (experiment,) = [e for e in client.search_experiments() if e.name == DEFAULT_EXPERIMENT]
    runs = client.search_runs([experiment.experiment_id])
    assert sorted(r.info.run_id for r in runs) == sorted(outcomes)
