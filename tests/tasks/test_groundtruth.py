"""Labeling-job lifecycle against botocore's Stubber (moto has no labeling jobs)."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber

from tasks.groundtruth import (
    JobNameTakenError,
    LabelingJobFailedError,
    LabelingJobTimeoutError,
    backoff_delays,
    job_status,
    label_statistics,
    list_jobs,
    output_manifest_uri,
    progress,
    statistics_metrics,
    stop_job,
    submit_job,
    wait_for_job,
)
from tasks.labeling_job import JobSettings, build_request
from tasks.labeling_results import job_result

ROLE = "arn:aws:iam::123456789012:role/GroundTruthRole"
TEAM = "arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/drone-team"
ARN = "arn:aws:sagemaker:us-east-1:123456789012:labeling-job/job-1"
OUTPUT = "s3://bucket/labeling/job-1/output/job-1/manifests/output/output.manifest"


def make_request(
    name: str = "job-1", manifest_prefix: str = "s3://bucket/labeling"
) -> dict[str, Any]:
    settings = JobSettings(ROLE, TEAM, "us-east-1")
    return build_request(name, name, manifest_prefix, settings, max_labeled_objects=10)


def describe_response(
    request: dict[str, Any],
    status: str,
    *,
    labeled: int = 0,
    unlabeled: int = 4,
    failure: str | None = None,
    output: str | None = None,
) -> dict[str, Any]:
    """A DescribeLabelingJob response in the real shape (Stubber validates it)."""
    now = datetime(2026, 11, 28, tzinfo=UTC)
    response = {
        "LabelingJobStatus": status,
        "LabelCounters": {
            "TotalLabeled": labeled,
            "HumanLabeled": labeled,
            "MachineLabeled": 0,
            "FailedNonRetryableError": 0,
            "Unlabeled": unlabeled,
        },
        "CreationTime": now,
        "LastModifiedTime": now,
        "JobReferenceCode": "abc",
        "LabelingJobName": request["LabelingJobName"],
        "LabelingJobArn": ARN.replace("job-1", request["LabelingJobName"]),
        "LabelAttributeName": request["LabelAttributeName"],
        "InputConfig": request["InputConfig"],
        "OutputConfig": request["OutputConfig"],
        "RoleArn": request["RoleArn"],
        "LabelCategoryConfigS3Uri": request["LabelCategoryConfigS3Uri"],
        "StoppingConditions": request["StoppingConditions"],
        "HumanTaskConfig": request["HumanTaskConfig"],
        "Tags": request["Tags"],
    }
    if failure:
        response["FailureReason"] = failure
    if output:
        response["LabelingJobOutput"] = {"OutputDatasetS3Uri": output}
    return response


def summary_response(description: dict[str, Any]) -> dict[str, Any]:
    """The job's entry in a ListLabelingJobs answer, from its DescribeLabelingJob answer."""
    keys = (
        "LabelingJobName",
        "LabelingJobArn",
        "CreationTime",
        "LastModifiedTime",
        "LabelingJobStatus",
        "LabelCounters",
    )
    human = description["HumanTaskConfig"]
    return {
        **{key: description[key] for key in keys},
        "WorkteamArn": human["WorkteamArn"],
        "PreHumanTaskLambdaArn": human["PreHumanTaskLambdaArn"],
    }


class UpperJitter(random.Random):
    """Jitter that always picks the longest delay: a deterministic schedule."""

    def uniform(self, a: float, b: float) -> float:
        return b


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def test_submit_creates_a_new_job(sagemaker_stubber: tuple[Any, Stubber]) -> None:
    client, stubber = sagemaker_stubber
    request = make_request()
    stubber.add_client_error(
        "describe_labeling_job", "ResourceNotFound", expected_params={"LabelingJobName": "job-1"}
    )
    stubber.add_response("create_labeling_job", {"LabelingJobArn": ARN}, expected_params=request)
    submitted = submit_job(client, request)
    assert (submitted.job_arn, submitted.created) == (ARN, True)


def test_resubmitting_finds_the_existing_job(sagemaker_stubber: tuple[Any, Stubber]) -> None:
    client, stubber = sagemaker_stubber
    request = make_request()
    stubber.add_response(
        "describe_labeling_job",
        describe_response(request, "InProgress"),
        expected_params={"LabelingJobName": "job-1"},
    )
    submitted = submit_job(client, request)  # no create call is stubbed: none may happen
    assert (submitted.job_arn, submitted.created) == (ARN, False)


def test_create_race_resource_in_use_finds_the_job(sagemaker_stubber: tuple[Any, Stubber]) -> None:
    client, stubber = sagemaker_stubber
    request = make_request()
    stubber.add_client_error("describe_labeling_job", "ResourceNotFound")
    stubber.add_client_error("create_labeling_job", "ResourceInUse", expected_params=request)
    stubber.add_response("describe_labeling_job", describe_response(request, "Initializing"))
    assert submit_job(client, request).created is False


def test_name_taken_by_a_different_job(sagemaker_stubber: tuple[Any, Stubber]) -> None:
    client, stubber = sagemaker_stubber
    stubber.add_response(
        "describe_labeling_job",
        describe_response(make_request(manifest_prefix="s3://other/x"), "Completed"),
    )
    with pytest.raises(JobNameTakenError, match="input manifest"):
        submit_job(client, make_request())


def test_create_error_other_than_in_use_propagates(sagemaker_stubber: tuple[Any, Stubber]) -> None:
    from botocore.exceptions import ClientError

    client, stubber = sagemaker_stubber
    stubber.add_client_error("describe_labeling_job", "ResourceNotFound")
    stubber.add_client_error("create_labeling_job", "ResourceLimitExceeded")
    with pytest.raises(ClientError, match="ResourceLimitExceeded"):
        submit_job(client, make_request())


def test_wait_initializing_in_progress_completed(sagemaker_stubber: tuple[Any, Stubber]) -> None:
    client, stubber = sagemaker_stubber
    request = make_request()
    for response in (
        describe_response(request, "Initializing"),
        describe_response(request, "InProgress", labeled=1, unlabeled=3),
        describe_response(request, "InProgress", labeled=3, unlabeled=1),
        describe_response(request, "Completed", labeled=4, unlabeled=0, output=OUTPUT),
    ):
        stubber.add_response("describe_labeling_job", response, {"LabelingJobName": "job-1"})
    sleeps, seen = Sleeps(), []
    final = wait_for_job(
        client,
        "job-1",
        sleep=sleeps,
        initial_delay_s=10,
        max_delay_s=25,
        rng=random.Random(0),
        on_progress=lambda d: seen.append(progress(d["LabelCounters"])[2]),
    )
    assert final["LabelingJobStatus"] == "Completed"
    assert output_manifest_uri(final) == OUTPUT
    assert seen == [0.0, 25.0, 75.0, 100.0]
    assert len(sleeps) == 3
    assert 5 <= sleeps[0] <= 10 and 10 <= sleeps[1] <= 20 and 12.5 <= sleeps[2] <= 25  # capped


def test_wait_failed_raises_with_the_reason(sagemaker_stubber: tuple[Any, Stubber]) -> None:
    client, stubber = sagemaker_stubber
    request = make_request()
    stubber.add_response("describe_labeling_job", describe_response(request, "InProgress"))
    stubber.add_response(
        "describe_labeling_job",
        describe_response(request, "Failed", failure="ClientError: manifest s3://x not readable"),
    )
    with pytest.raises(LabelingJobFailedError, match="manifest s3://x not readable"):
        wait_for_job(client, "job-1", sleep=Sleeps())


def test_wait_stopped_returns_the_partial_output(sagemaker_stubber: tuple[Any, Stubber]) -> None:
    client, stubber = sagemaker_stubber
    request = make_request()
    stubber.add_response("describe_labeling_job", describe_response(request, "Stopping", labeled=2))
    stubber.add_response(
        "describe_labeling_job",
        describe_response(request, "Stopped", labeled=2, unlabeled=2, output=OUTPUT),
    )
    final = wait_for_job(client, "job-1", sleep=Sleeps())
    assert final["LabelingJobStatus"] == "Stopped"
    assert output_manifest_uri(final) == OUTPUT


def test_wait_retries_throttling_and_transient_errors(
    sagemaker_stubber: tuple[Any, Stubber],
) -> None:
    client, stubber = sagemaker_stubber
    request = make_request()
    stubber.add_client_error("describe_labeling_job", "ThrottlingException", http_status_code=400)
    stubber.add_client_error("describe_labeling_job", "InternalFailure", http_status_code=500)
    stubber.add_response(
        "describe_labeling_job",
        describe_response(request, "Completed", labeled=4, unlabeled=0, output=OUTPUT),
    )
    sleeps = Sleeps()
    assert wait_for_job(client, "job-1", sleep=sleeps)["LabelingJobStatus"] == "Completed"
    assert len(sleeps) == 2


def test_wait_other_errors_are_not_retried(sagemaker_stubber: tuple[Any, Stubber]) -> None:
    from botocore.exceptions import ClientError

    client, stubber = sagemaker_stubber
    stubber.add_client_error("describe_labeling_job", "ResourceNotFound")
    with pytest.raises(ClientError, match="ResourceNotFound"):
        wait_for_job(client, "job-1", sleep=Sleeps())


def test_wait_times_out(sagemaker_stubber: tuple[Any, Stubber]) -> None:
    client, stubber = sagemaker_stubber
    request = make_request()
    now = [0.0]
    sleeps = Sleeps()

    def sleep(seconds: float) -> None:
        sleeps(seconds)
        now[0] += seconds

    for _ in range(3):
        stubber.add_response("describe_labeling_job", describe_response(request, "InProgress"))
    with pytest.raises(LabelingJobTimeoutError, match="still running after 100 s"):
        wait_for_job(
            client,
            "job-1",
            timeout_s=100,
            initial_delay_s=40,
            max_delay_s=40,
            sleep=sleep,
            clock=lambda: now[0],
            rng=UpperJitter(),
        )
    assert sleeps == [40, 40]  # polls at 0, 40 and 80 s; a third wait would pass 100 s


def test_backoff_is_exponential_jittered_and_capped() -> None:
    delay = backoff_delays(1, 60, random.Random(3))
    values = [delay(n) for n in range(12)]
    for n, value in enumerate(values):
        ceiling = min(60, 2**n)
        assert ceiling / 2 <= value <= ceiling


def test_list_jobs_follows_pages(sagemaker_stubber: tuple[Any, Stubber]) -> None:
    client, stubber = sagemaker_stubber

    def summary(name: str) -> dict[str, Any]:
        return summary_response(describe_response(make_request(name), "Completed"))

    base = {"SortBy": "CreationTime", "SortOrder": "Descending", "StatusEquals": "Completed"}
    stubber.add_response(
        "list_labeling_jobs",
        {"LabelingJobSummaryList": [summary("a"), summary("b")], "NextToken": "t1"},
        base,
    )
    stubber.add_response(
        "list_labeling_jobs",
        {"LabelingJobSummaryList": [summary("c")]},
        {**base, "NextToken": "t1"},
    )
    assert [j["LabelingJobName"] for j in list_jobs(client, status="Completed")] == ["a", "b", "c"]


def test_stop_job(sagemaker_stubber: tuple[Any, Stubber]) -> None:
    client, stubber = sagemaker_stubber
    stubber.add_response("stop_labeling_job", {}, {"LabelingJobName": "job-1"})
    stop_job(client, "job-1")


def test_job_status(sagemaker_stubber: tuple[Any, Stubber]) -> None:
    client, stubber = sagemaker_stubber
    stubber.add_response("describe_labeling_job", describe_response(make_request(), "InProgress"))
    stubber.add_client_error("describe_labeling_job", "ResourceNotFound")
    status = job_status(client, "job-1")
    assert (status["job_arn"], status["status"]) == (ARN, "InProgress")
    assert status["progress"] == (
        "job-1: InProgress 0/4 (0%) human 0, machine 0, failed 0, unlabeled 4"
    )
    with pytest.raises(ValueError, match="no labeling job named 'job-1'"):
        job_status(client, "job-1")


def test_output_manifest_missing_is_an_error() -> None:
    with pytest.raises(ValueError, match="no output manifest"):
        output_manifest_uri(describe_response(make_request(), "InProgress"))


@pytest.mark.realdata
def test_label_statistics_of_aws_sample_manifest(realdata: Path) -> None:
    path = realdata / "sagemaker-gt-aws-sample-manifest" / "sample_output.manifest"
    stats = label_statistics(path.read_text(), "category")
    assert stats["objects"] == stats["labeled_objects"] == 100
    assert stats["boxes"] == 192
    assert stats["boxes_per_class"] == {"Bird": 192}
    confidence = stats["confidence"]
    assert confidence["count"] == 192
    assert 0.05 <= confidence["min"] <= confidence["median"] <= confidence["max"] <= 0.97
    assert sum(confidence["histogram"].values()) == 192


@pytest.mark.realdata
def test_label_statistics_cat_labels(realdata: Path) -> None:
    stats = label_statistics(
        (realdata / "sagemaker-gt-cat-labels" / "output.manifest").read_text(), "cat-ground-truth"
    )
    assert (stats["objects"], stats["boxes"], stats["boxes_per_class"]) == (4, 4, {"Cat": 4})


def test_label_statistics_counts_failed_lines() -> None:
    lines = [
        {
            "source-ref": "s3://b/a.jpg",
            "job": {"annotations": [{"class_id": 0}, {"class_id": 1}], "image_size": []},
            "job-metadata": {
                "class-map": {"0": "car", "1": "person"},
                "objects": [{"confidence": 0.9}, {"confidence": 0.1}],
            },
        },
        {"source-ref": "s3://b/b.jpg", "job-metadata": {"failure-reason": "ClientError: timeout"}},
        {"source-ref": "s3://b/c.jpg"},
    ]
    stats = label_statistics("\n".join(json.dumps(line) for line in lines) + "\n", "job")
    assert (stats["objects"], stats["labeled_objects"], stats["failed_objects"]) == (3, 1, 2)
    assert stats["boxes_per_class"] == {"car": 1, "person": 1}
    assert stats["confidence"]["histogram"] == {
        "0.0-0.2": 1,
        "0.2-0.4": 0,
        "0.4-0.6": 0,
        "0.6-0.8": 0,
        "0.8-1.0": 1,
    }


def test_job_result_reads_the_output_manifest_from_s3(s3: Any) -> None:
    from tasks.storage import Store

    manifest = (
        json.dumps(
            {
                "source-ref": "s3://bucket/raw/a.jpg",
                "job-1": {
                    "annotations": [{"class_id": 0, "left": 1, "top": 2, "width": 3, "height": 4}]
                },
                "job-1-metadata": {"class-map": {"0": "car"}, "objects": [{"confidence": 0.8}]},
            }
        )
        + "\n"
    )
    s3.put_object(Bucket="bucket", Key=OUTPUT.removeprefix("s3://bucket/"), Body=manifest.encode())
    description = describe_response(
        make_request(), "Completed", labeled=1, unlabeled=0, output=OUTPUT
    )
    result = job_result(description, Store().use_client(s3))
    assert result["output_manifest_uri"] == OUTPUT
    assert result["job_arn"] == ARN
    assert result["statistics"]["boxes_per_class"] == {"car": 1}


def test_label_statistics_of_a_verification_job() -> None:
    """AWS's documented verification line: one verdict per image, its confidence in metadata."""

    def verdict(name: str, index: str, confidence: float) -> dict[str, Any]:
        return {
            "source-ref": f"s3://b/{name}.jpg",
            "boxes": {"annotations": [{"class_id": 0}], "image_size": []},
            "boxes-metadata": {"class-map": {"0": "car"}, "objects": [{"confidence": 0.2}]},
            "check": index,
            "check-metadata": {
                "class-name": name,
                "confidence": confidence,
                "type": "groundtruth/label-verification",
                "job-name": "labeling-job/check",
                "human-annotated": "yes",
                "creation-date": "2026-11-28T05:00:00.000000",
                "worker-feedback": [{"comment": "the car on the left has no box"}],
            },
        }

    lines = [
        verdict("correct", "0", 0.9),
        verdict("incorrect", "1", 0.8),
        verdict("correct", "0", 0.7),
        {"source-ref": "s3://b/x.jpg", "check-metadata": {"failure-reason": "timeout"}},
    ]
    stats = label_statistics("".join(json.dumps(line) + "\n" for line in lines), "check")
    assert (stats["objects"], stats["labeled_objects"], stats["failed_objects"]) == (4, 3, 1)
    assert stats["verdicts"] == {"correct": 2, "incorrect": 1}
    assert (stats["boxes"], stats["boxes_per_class"]) == (0, {})
    assert stats["confidence"]["count"] == 3 and stats["confidence"]["min"] == 0.7
    metrics = statistics_metrics(stats)
    assert (metrics["gt_verdict_correct"], metrics["gt_verdict_incorrect"]) == (2.0, 1.0)
