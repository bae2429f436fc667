"""What a prepare or explore run records in MLflow (inside ``tracking.start_run``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel

from tasks import tracking
from tasks.layout import DATASET_INFO, dataset_info_text
from tasks.tables import STATUS_OK, STATUS_QUARANTINED, STATUS_UNLABELED


def profile_metrics(images: pd.DataFrame, boxes: pd.DataFrame | None) -> dict[str, float]:
    """Counts, flag rates and per-split class counts of one run."""
    total = max(len(images), 1)
    metrics: dict[str, float] = {
        "images_found": len(images),
        "images_ok": int((images["status"] == STATUS_OK).sum()),
        "images_quarantined": int((images["status"] == STATUS_QUARANTINED).sum()),
        "images_unlabeled": int((images["status"] == STATUS_UNLABELED).sum()),
    }
    if "flags" in images:
        flags = images["flags"].fillna("").str.split(";").explode()
        for flag, count in flags[flags != ""].value_counts().items():
            metrics[f"flag_rate/{flag}"] = count / total
    if boxes is not None and len(boxes) and "split" in images:
        split_of = dict(zip(images["key"], images["split"], strict=True))
        per = boxes.assign(split=boxes["image_key"].map(split_of)).dropna(subset=["split"])
        for (split, name), count in per.groupby(["split", "class_name"]).size().items():
            metrics[tracking.metric_key("instances", split, name)] = int(count)
        for split, count in images["split"].value_counts().items():
            metrics[f"images/{split}"] = int(count)
    return metrics


def record_profile(
    params: BaseModel | dict[str, Any],
    images: pd.DataFrame,
    boxes: pd.DataFrame | None,
    report_dir: Any,
    gate_statistics: dict[str, Any] | None = None,
) -> None:
    """Parameters, metrics, and the report folder (HTML, CSV, charts) as artifacts."""
    values = params.model_dump(mode="json") if isinstance(params, BaseModel) else params
    tracking.log_params(values)
    metrics = profile_metrics(images, boxes)
    for key, value in (gate_statistics or {}).items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            metrics[f"expectations/{key}"] = value
    tracking.log_metrics(metrics)
    tracking.log_artifacts(report_dir, "report")


def record_dataset(dataset_uri: str, name: str, info: dict[str, Any]) -> None:
    """dataset_info.json as an artifact, and the dataset as the run's dataset input."""
    tracking.log_text(dataset_info_text(info), DATASET_INFO)
    tracking.log_dataset_input(dataset_uri, str(info["files_digest"]), name)


def record_labeling_job(result: dict[str, Any], *, experiment: str, workdir: Path) -> str:
    """A run per finished labeling job: its label statistics, tagged with the job ARN."""
    from tasks.groundtruth import statistics_metrics

    target = tracking.choose_tracking_target(None, workdir=workdir)
    tags = {"droneprep.labeling_job_arn": str(result["job_arn"])}
    with tracking.start_run(
        target, experiment=experiment, run_name=str(result["job_name"]), stage="label", tags=tags
    ) as run_id:
        tracking.log_params(
            {
                "job_name": result["job_name"],
                "status": result["status"],
                "output_manifest_uri": result["output_manifest_uri"],
            }
        )
        tracking.log_metrics(statistics_metrics(result["statistics"]))
        tracking.log_text(json.dumps(result["statistics"], indent=2), "label_statistics.json")
    return run_id
