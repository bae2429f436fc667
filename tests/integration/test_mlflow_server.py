"""A real `mlflow server` on loopback receives a droneprep run; read it back via the API."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from tasks import tracking
from tasks.tracking import TAG_DATASET, TAG_STAGE, choose_tracking_target, metric_key

pytestmark = pytest.mark.integration

DIGEST = "0123456789abcdef" * 4


def test_run_reaches_real_server(
    mlflow_server_uri: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from mlflow.tracking import MlflowClient

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    caplog.set_level(logging.WARNING)
    target = choose_tracking_target(mlflow_server_uri, workdir=tmp_path)
    assert target.uri == mlflow_server_uri
    assert not target.fell_back

    report = tmp_path / "report"
    (report / "charts").mkdir(parents=True)
    (report / "summary.md").write_text("# demo\n\n300 images, 2 quarantined\n")
    (report / "charts" / "brightness.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    info = {"name": "demo_set", "files_digest": DIGEST}
    class_counts = {"car": 120, "traffic light": 7, "a/b": 1}
    with tracking.start_run(
        target, experiment="droneprep-it", run_name="prepare", stage="prepare",
        dataset_name="demo_set",
    ) as run_id:  # fmt: skip
        tracking.log_params({"seed": 42, "val_fraction": 0.2, "classes": sorted(class_counts)})
        tracking.log_metrics(
            {metric_key("class_instances", "train", name): n for name, n in class_counts.items()}
            | {"images/train": 240, "flags/blurry_rate": 0.05}
        )
        tracking.log_artifacts(report, "report")
        tracking.log_text(json.dumps(info), "dataset/dataset_info.json")
        tracking.log_dataset_input(str(tmp_path / "datasets" / "demo_set"), DIGEST, "demo_set")

    client = MlflowClient(tracking_uri=mlflow_server_uri)
    run = client.get_run(run_id)
    assert client.get_experiment(run.info.experiment_id).name == "droneprep-it"
    assert run.info.status == "FINISHED"
    assert run.data.params == {
        "seed": "42",
        "val_fraction": "0.2",
        "classes": '["a/b", "car", "traffic light"]',
    }
    assert run.data.metrics == {
        "class_instances/train/car": 120.0,
        "class_instances/train/traffic light": 7.0,
        "class_instances/train/a_b": 1.0,
        "images/train": 240.0,
        "flags/blurry_rate": 0.05,
    }
    assert run.data.tags[TAG_STAGE] == "prepare"
    assert run.data.tags[TAG_DATASET] == "demo_set"

    downloaded = Path(client.download_artifacts(run_id, "", str(tmp_path / "back")))
    assert (downloaded / "report" / "summary.md").read_text() == (report / "summary.md").read_text()
    assert (downloaded / "report" / "charts" / "brightness.png").stat().st_size == 72
    assert json.loads((downloaded / "dataset" / "dataset_info.json").read_text()) == info

    (dataset_input,) = run.inputs.dataset_inputs
    assert dataset_input.dataset.name == "demo_set"
    assert dataset_input.dataset.digest == DIGEST[:32]
    assert str(tmp_path / "datasets" / "demo_set") in dataset_input.dataset.source
    assert {t.key: t.value for t in dataset_input.tags}["droneprep.files_digest"] == DIGEST
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_training_run_links_to_the_same_dataset(
    mlflow_server_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A training run logging `dataset_reference(...)` shares the producer's dataset."""
    import mlflow
    from mlflow.tracking import MlflowClient

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    target = choose_tracking_target(mlflow_server_uri, workdir=tmp_path)
    uri = "s3://bucket/datasets/lineage_set/"
    with tracking.start_run(target, experiment="droneprep-it", stage="prepare") as producer:
        tracking.log_dataset_input(uri, DIGEST, "lineage_set")
    with tracking.start_run(target, experiment="droneprep-it", stage="train") as trainer:
        mlflow.log_input(tracking.dataset_reference(uri, DIGEST, "lineage_set"), "training")

    client = MlflowClient(tracking_uri=mlflow_server_uri)
    produced = client.get_run(producer).inputs.dataset_inputs[0].dataset
    trained = client.get_run(trainer).inputs.dataset_inputs[0].dataset
    assert (trained.name, trained.digest, trained.source) == (
        produced.name,
        produced.digest,
        produced.source,
    )
