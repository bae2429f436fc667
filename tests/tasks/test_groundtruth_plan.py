"""Planning a job: settings checked first, stable names, local images staged to S3."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tasks.discover import discover_images
from tasks.groundtruth import label_statistics, statistics_metrics
from tasks.labeling_job import JobSettings
from tasks.labeling_plan import (
    Chain,
    chainable_lines,
    check_settings,
    default_job_prefix,
    plan_chained_job,
    plan_new_job,
    skipped_refs,
)
from tasks.labeling_results import upload_plan
from tasks.storage import Store

ROLE = "arn:aws:iam::123456789012:role/GroundTruthRole"
PUBLIC = "arn:aws:sagemaker:us-east-1:394669845002:workteam/public-crowd/default"
PRIVATE = "arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/drone-team"


@pytest.mark.parametrize(
    ("settings", "budget", "message"),
    [
        (JobSettings("role", PRIVATE, "us-east-1"), 1, "IAM role ARN"),
        (JobSettings(ROLE, "team", "us-east-1"), 1, "workteam ARN"),
        (JobSettings(ROLE, PRIVATE, "mars-1"), 1, "no built-in bounding-box Lambdas"),
        (JobSettings(ROLE, PUBLIC, "us-east-1"), 1, "needs --price-usd"),
        (JobSettings(ROLE, PUBLIC, "us-east-1", task_price_usd="0.5"), 1, "not an allowed"),
        (JobSettings(ROLE, PRIVATE, "us-east-1", workers_per_object=10), 1, r"1\.\.9"),
        (JobSettings(ROLE, PRIVATE, "us-east-1"), 0, "must be positive"),
    ],
)
def test_check_settings_refuses_bad_configuration(
    settings: JobSettings, budget: float, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        check_settings(settings, budget)


def test_default_job_prefix() -> None:
    assert default_job_prefix("s3://bucket/raw-data/") == "s3://bucket/labeling"
    with pytest.raises(ValueError, match="--job-prefix"):
        default_job_prefix("/data/raw")


def _local_images(root: Path, image_bytes: Callable[..., bytes]) -> Any:
    for index, key in enumerate(["a/1.jpg", "b/2 (x).jpg"]):
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        (root / key).write_bytes(image_bytes(32, 24, seed=index))
    images, problems = discover_images(str(root), Store())
    assert problems == []
    return images


def test_plan_is_stable_and_local_images_are_staged(
    s3: Any, tmp_path: Path, image_bytes: Callable[..., bytes]
) -> None:
    images = _local_images(tmp_path / "raw", image_bytes)
    settings = JobSettings(ROLE, PRIVATE, "us-east-1", workers_per_object=2)
    kwargs = {
        "source_uri": str(tmp_path / "raw"),
        "classes": ["car"],
        "settings": settings,
        "budget_usd": Decimal(1),
        "job_prefix_uri": "s3://bucket/labeling",
    }
    plan = plan_new_job(images, **kwargs)
    assert plan_new_job(images, **kwargs).job_name == plan.job_name  # resubmission: same job
    assert plan_new_job(images, **{**kwargs, "classes": ["bus"]}).job_name != plan.job_name
    assert plan.folder_uri == f"s3://bucket/labeling/{plan.job_name}"
    assert [target for _, target in plan.staged] == [
        f"{plan.folder_uri}/images/a/1.jpg",
        f"{plan.folder_uri}/images/b/2 (x).jpg",
    ]
    assert (plan.estimate.total_usd, plan.decision.max_labeled_objects) == (Decimal("0.16"), 2)
    store = Store().use_client(s3)
    uris = upload_plan(plan, store)
    assert len(uris) == 5
    assert (
        store.read_bytes(plan.staged[1][1]) == (tmp_path / "raw" / "b" / "2 (x).jpg").read_bytes()
    )
    manifest = store.read_text(f"{plan.folder_uri}/manifest.jsonl")
    assert [json.loads(line)["source-ref"] for line in manifest.splitlines()] == [
        t for _, t in plan.staged
    ]
    assert skipped_refs([f"{plan.folder_uri}/manifest.jsonl"], store) == {t for _, t in plan.staged}


def test_empty_selection_is_an_error(tmp_path: Path, image_bytes: Callable[..., bytes]) -> None:
    images = _local_images(tmp_path / "raw", image_bytes).iloc[0:0]
    with pytest.raises(ValueError, match="no images to label"):
        plan_new_job(
            images,
            source_uri="s3://b/raw",
            classes=["car"],
            settings=JobSettings(ROLE, PRIVATE, "us-east-1"),
            budget_usd=1,
            job_prefix_uri="s3://b/l",
        )


def test_statistics_metrics_for_mlflow() -> None:
    line = {
        "source-ref": "s3://b/a.jpg",
        "j": {"annotations": [{"class_id": 0}]},
        "j-metadata": {"class-map": {"0": "big truck"}, "objects": [{"confidence": 0.5}]},
    }
    metrics = statistics_metrics(label_statistics(json.dumps(line), "j"))
    assert metrics == {
        "gt_objects": 1.0,
        "gt_labeled_objects": 1.0,
        "gt_failed_objects": 0.0,
        "gt_boxes": 1.0,
        "gt_boxes_big_truck": 1.0,
        "gt_confidence_min": 0.5,
        "gt_confidence_median": 0.5,
        "gt_confidence_mean": 0.5,
        "gt_confidence_max": 0.5,
    }


def test_submit_plan_uploads_only_when_it_creates_the_job(
    s3: Any, tmp_path: Path, image_bytes: Callable[..., bytes]
) -> None:
    import boto3
    from botocore.stub import Stubber

    from tasks.labeling_results import submit_plan
    from tests.tasks.test_groundtruth import describe_response

    images = _local_images(tmp_path / "raw", image_bytes)
    plan = plan_new_job(
        images,
        source_uri=str(tmp_path / "raw"),
        classes=["car"],
        budget_usd=1,
        settings=JobSettings(ROLE, PRIVATE, "us-east-1"),
        job_prefix_uri="s3://bucket/labeling",
    )
    store = Store().use_client(s3)
    manifest_uri = f"{plan.folder_uri}/manifest.jsonl"
    client = boto3.client("sagemaker", region_name="us-east-1")
    with Stubber(client) as stubber:
        stubber.add_response("describe_labeling_job", describe_response(plan.request, "InProgress"))
        assert submit_plan(client, plan, store).created is False
        assert not store.exists(manifest_uri)  # a running job's files are never rewritten
        stubber.add_client_error("describe_labeling_job", "ResourceNotFound")
        stubber.add_response(
            "create_labeling_job",
            {"LabelingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:labeling-job/x"},
            plan.request,
        )
        assert submit_plan(client, plan, store).created is True
        stubber.assert_no_pending_responses()
    assert store.read_text(manifest_uri) == plan.files["manifest.jsonl"]


def test_chained_jobs_leave_out_images_without_boxes() -> None:
    """Failed or unlabeled images have nothing to adjust or verify (and would be charged)."""
    failed = {"failure-reason": "ClientError: the task timed out"}
    lines = [
        {"source-ref": "s3://b/a.jpg", "j": {"annotations": []}, "j-metadata": {}},
        {"source-ref": "s3://b/b.jpg", "j": {"annotations": [{"class_id": 0}]}},
        {"source-ref": "s3://b/c.jpg", "j-metadata": failed},
        {"source-ref": "s3://b/d.jpg", "j": {"annotations": []}, "j-metadata": failed},
        {"source-ref": "s3://b/e.jpg", "other": {"annotations": []}},
    ]
    kept, skipped = chainable_lines("\n".join(json.dumps(line) for line in lines) + "\n\n", "j")
    assert [json.loads(line)["source-ref"] for line in kept] == ["s3://b/a.jpg", "s3://b/b.jpg"]
    assert skipped == 3


def _finished(name: str) -> dict[str, Any]:
    arn = f"arn:aws:sagemaker:us-east-1:123456789012:labeling-job/{name}"
    return {"LabelingJobName": name, "LabelingJobArn": arn, "LabelAttributeName": name}


def test_chains_of_chains_audit_the_right_boxes() -> None:
    """label -> verify -> adjust -> verify: each follow-up shows the newest boxes."""
    manifest = json.dumps(
        {"source-ref": "s3://b/a.jpg", "boxes": {"annotations": []}, "verify": "0"}
    )
    plan = {
        "settings": JobSettings(ROLE, PRIVATE, "us-east-1"),
        "budget_usd": 5,
        "job_prefix_uri": "s3://b/labeling",
    }
    first = {"source_uri": "s3://b/raw/", "classes": ["car"], "boxes_attribute": "boxes"}
    verify = plan_chained_job(
        _finished("boxes"),
        previous_manifest=manifest,
        record=first,
        chain=Chain("verification"),
        **plan,
    )
    record = json.loads(verify.files["job.json"])
    assert record["boxes_attribute"] == "boxes" and record["rejecting_verdicts"] == ["incorrect"]
    assert json.loads(verify.files["categories.json"])["auditLabelAttributeName"] == "boxes"

    adjust = plan_chained_job(
        _finished(verify.job_name),
        previous_manifest=manifest,
        record=record,
        chain=Chain("adjustment", extra_classes=("bus",)),
        **plan,
    )
    adjusted = json.loads(adjust.files["job.json"])
    assert json.loads(adjust.files["categories.json"])["auditLabelAttributeName"] == "boxes"
    assert adjusted["boxes_attribute"] == adjust.job_name  # its own boxes are the newest
    assert "rejecting_verdicts" not in adjusted  # the old verdicts judged the old boxes
    assert adjusted["classes"] == ["car", "bus"]

    again = plan_chained_job(
        _finished(adjust.job_name),
        previous_manifest=manifest.replace('"boxes"', f'"{adjust.job_name}"'),
        record=adjusted,
        chain=Chain("verification", verdicts=("good", "bad"), rejecting=("bad",)),
        **plan,
    )
    assert json.loads(again.files["categories.json"]) == {
        "document-version": "2018-11-28",
        "auditLabelAttributeName": adjust.job_name,
        "labels": [{"label": n} for n in ("good", "bad", "car", "bus")],
    }
    assert again.request["StoppingConditions"] == {"MaxHumanLabeledObjectCount": 1}
