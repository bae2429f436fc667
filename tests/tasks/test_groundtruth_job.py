"""Job files and the CreateLabelingJob request: formats checked field by field."""

from __future__ import annotations

import json
from decimal import Decimal

import pandas as pd
import pytest

from tasks.labeling_job import (
    JobSettings,
    build_request,
    categories_text,
    check_job_name,
    check_verdicts,
    derive_job_name,
    labeled_source_refs,
    lambda_arns,
    manifest_text,
    select_for_labeling,
    write_job_files,
)
from tasks.storage import Store

PUBLIC = "arn:aws:sagemaker:us-east-1:394669845002:workteam/public-crowd/default"
PRIVATE = "arn:aws:sagemaker:eu-west-1:123456789012:workteam/private-crowd/drone-team"
ROLE = "arn:aws:iam::123456789012:role/GroundTruthRole"
HOSTILE = 'car "<b>big</b>" & {{ task.input }}'


@pytest.mark.parametrize(
    ("region", "account"),
    [
        ("us-east-1", "432418664414"),
        ("eu-central-1", "203001061592"),
        ("ap-south-1", "565803892007"),
    ],
)
def test_lambda_arns_by_region(region: str, account: str) -> None:
    pre, acs = lambda_arns(region)
    assert pre == f"arn:aws:lambda:{region}:{account}:function:PRE-BoundingBox"
    assert acs == f"arn:aws:lambda:{region}:{account}:function:ACS-BoundingBox"
    assert lambda_arns(region, "adjustment")[1].endswith(":ACS-AdjustmentBoundingBox")
    assert lambda_arns(region, "verification") == (
        f"arn:aws:lambda:{region}:{account}:function:PRE-VerificationBoundingBox",
        f"arn:aws:lambda:{region}:{account}:function:ACS-VerificationBoundingBox",
    )


def test_unknown_region_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"'sa-east-1'.*us-east-1"):
        lambda_arns("sa-east-1")


@pytest.mark.parametrize("name", ["a", "droneprep-0123", "A-b--c9", "x" * 63])
def test_valid_job_names(name: str) -> None:
    assert check_job_name(name) == name


@pytest.mark.parametrize(
    "name", ["", "-a", "a-", "a_b", "a.b", "x" * 64, "job-metadata", "job-ref"]
)
def test_invalid_job_names(name: str) -> None:
    with pytest.raises(ValueError, match="job name"):
        check_job_name(name)


def test_derived_job_name_is_stable_and_valid() -> None:
    first = derive_job_name("drone prep/weird__prefix", ["s3://b/a.jpg"], ["car"])
    assert first == derive_job_name("drone prep/weird__prefix", ["s3://b/a.jpg"], ["car"])
    assert first != derive_job_name("drone prep/weird__prefix", ["s3://b/a.jpg"], ["bus"])
    assert first.startswith("drone-prep-weird-prefix-")
    assert check_job_name(derive_job_name("x" * 80, 1)) and len(derive_job_name("x" * 80, 1)) == 63


def test_manifest_is_json_lines_of_source_ref() -> None:
    text = manifest_text(["s3://bucket/raw/a (1).jpg", "s3://bucket/raw/b.png"])
    lines = text.splitlines()
    assert text.endswith("\n") and len(lines) == 2
    assert [json.loads(line) for line in lines] == [
        {"source-ref": "s3://bucket/raw/a (1).jpg"},
        {"source-ref": "s3://bucket/raw/b.png"},
    ]
    assert labeled_source_refs(text) == {"s3://bucket/raw/a (1).jpg", "s3://bucket/raw/b.png"}


def test_manifest_refuses_local_images() -> None:
    with pytest.raises(ValueError, match="S3 only"):
        manifest_text(["/data/a.jpg"])


def test_categories_file_format() -> None:
    doc = json.loads(categories_text(["vehicle", "person", HOSTILE]))
    assert doc == {
        "document-version": "2018-11-28",
        "labels": [{"label": "vehicle"}, {"label": "person"}, {"label": HOSTILE}],
    }
    audit = json.loads(categories_text(["car"], audit_label_attribute="job-1"))
    assert audit["auditLabelAttributeName"] == "job-1"


@pytest.mark.parametrize("classes", [[], ["car", ""], ["car", "car"]])
def test_bad_classes(classes: list[str]) -> None:
    with pytest.raises(ValueError, match="classes"):
        categories_text(classes)


def _settings(
    workteam: str = PUBLIC, region: str = "us-east-1", price: str | None = "0.036"
) -> JobSettings:
    return JobSettings(
        ROLE,
        workteam,
        region,
        workers_per_object=3,
        task_price_usd=Decimal(price) if price else None,
    )


def test_request_shape_public_workforce() -> None:
    request = build_request(
        "job-1", "job-1", "s3://bucket/labeling", _settings(), max_labeled_objects=42
    )
    folder = "s3://bucket/labeling/job-1"
    assert request["LabelingJobName"] == "job-1"
    assert request["LabelAttributeName"] == "job-1"
    assert request["RoleArn"] == ROLE
    assert request["InputConfig"] == {
        "DataSource": {"S3DataSource": {"ManifestS3Uri": f"{folder}/manifest.jsonl"}},
        "DataAttributes": {
            "ContentClassifiers": ["FreeOfPersonallyIdentifiableInformation", "FreeOfAdultContent"]
        },
    }
    assert request["OutputConfig"] == {"S3OutputPath": f"{folder}/output/"}
    assert request["LabelCategoryConfigS3Uri"] == f"{folder}/categories.json"
    assert request["StoppingConditions"] == {"MaxHumanLabeledObjectCount": 42}
    human = request["HumanTaskConfig"]
    assert human["WorkteamArn"] == PUBLIC
    assert human["UiConfig"] == {"UiTemplateS3Uri": f"{folder}/template.liquid.html"}
    assert (
        human["PreHumanTaskLambdaArn"]
        == "arn:aws:lambda:us-east-1:432418664414:function:PRE-BoundingBox"
    )
    acs = "arn:aws:lambda:us-east-1:432418664414:function:ACS-BoundingBox"
    assert human["AnnotationConsolidationConfig"] == {"AnnotationConsolidationLambdaArn": acs}
    assert human["NumberOfHumanWorkersPerDataObject"] == 3
    assert human["TaskTimeLimitInSeconds"] >= 30
    assert human["TaskAvailabilityLifetimeInSeconds"] >= 60
    assert 1 <= human["MaxConcurrentTaskCount"] <= 5000
    assert 1 <= len(human["TaskKeywords"]) <= 5
    assert human["PublicWorkforceTaskPrice"] == {
        "AmountInUsd": {"Dollars": 0, "Cents": 3, "TenthFractionsOfACent": 6}
    }
    assert {"Key": "droneprep", "Value": "label"} in request["Tags"]


def test_request_private_workforce_has_no_task_price() -> None:
    request = build_request(
        "job-2",
        "job-2",
        "s3://b/p",
        _settings(PRIVATE, "eu-west-1", price="0.036"),
        max_labeled_objects=5,
    )
    assert "PublicWorkforceTaskPrice" not in request["HumanTaskConfig"]
    assert ":eu-west-1:568282634449:" in request["HumanTaskConfig"]["PreHumanTaskLambdaArn"]


@pytest.mark.parametrize("task_type", ["label", "adjustment", "verification"])
def test_request_is_valid_for_botocore(task_type: str) -> None:
    """The request passes botocore's own parameter validation for CreateLabelingJob."""
    import boto3
    from botocore.validate import validate_parameters

    client = boto3.client(
        "sagemaker", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    shape = client.meta.service_model.operation_model("CreateLabelingJob").input_shape
    request = build_request(
        "job-1", "job-1", "s3://b/p", _settings(), max_labeled_objects=1, task_type=task_type
    )
    validate_parameters(request, shape)
    assert {"Key": "droneprep", "Value": task_type} in request["Tags"]


def test_select_for_labeling_skips_quarantined_and_labeled() -> None:
    images = pd.DataFrame(
        {
            "key": ["c.jpg", "a.jpg", "b.jpg", "d.jpg"],
            "uri": ["s3://b/c.jpg", "s3://b/a.jpg", "s3://b/b.jpg", "s3://b/d.jpg"],
            "status": ["ok", "ok", "quarantined", "ok"],
        }
    )
    selected = select_for_labeling(images, {"s3://b/d.jpg"})
    assert selected["key"].tolist() == ["a.jpg", "c.jpg"]
    assert images["key"].tolist() == ["c.jpg", "a.jpg", "b.jpg", "d.jpg"]  # input untouched


def test_job_files_upload_to_s3(s3: object) -> None:
    store = Store().use_client(s3)
    files = {
        "manifest.jsonl": manifest_text(["s3://bucket/raw/a.jpg"]),
        "categories.json": categories_text(["car"]),
    }
    uris = write_job_files(files, "s3://bucket/labeling/job-1", store)
    assert uris == [
        "s3://bucket/labeling/job-1/categories.json",
        "s3://bucket/labeling/job-1/manifest.jsonl",
    ]
    head = s3.head_object(Bucket="bucket", Key="labeling/job-1/categories.json")
    assert head["ContentType"] == "application/json"
    assert store.read_text(uris[1]) == files["manifest.jsonl"]


@pytest.mark.parametrize(
    ("verdicts", "rejecting", "message"),
    [
        (["correct"], ["correct"], "two or more"),
        (["good", "good"], ["good"], "duplicates"),
        (["good", "bad, really"], ["bad, really"], "may not contain ','"),
        (["good", "bad"], [], "some but not all"),
        (["good", "bad"], ["good", "bad"], "some but not all"),
        (["good", "bad"], ["awful"], "not among the verdicts"),
        (["car", "bad"], ["bad"], "both a verdict and a class"),
    ],
)
def test_bad_verdicts(verdicts: list[str], rejecting: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_verdicts(verdicts, rejecting, ["car", "person"])
