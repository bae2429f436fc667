"""A Ground Truth labeling job's life: submit once, follow it, read what it produced.

Plain functions over a boto3 ``sagemaker`` client (tests give them a real client with
botocore's Stubber). Submitting is idempotent: the job name is looked up first, so a rerun
finds the job it created before. Following a job polls ``DescribeLabelingJob`` with
exponential backoff and jitter; throttling and transient errors only delay the next poll.
"""

from __future__ import annotations

import itertools
import json
import logging
import random
import re
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from prefect import task
from prefect.cache_policies import NONE

from tasks.annotations.groundtruth import VERIFICATION_TYPE
from tasks.retrying import io_task

log = logging.getLogger(__name__)

FINISHED = ("Completed", "Stopped")  # Stopped: the partial output is converted too; Initializing,
# InProgress and Stopping are polled again
_TRANSIENT_CODES = {
    "ThrottlingException",
    "ThrottledException",
    "Throttling",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "ServiceUnavailable",
    "InternalFailure",
    "InternalServerError",
    "RequestTimeout",
}
_CONFIDENCE_BINS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)


class LabelingJobFailedError(RuntimeError):
    """The job ended in ``Failed``; the message carries its ``FailureReason``."""


class LabelingJobTimeoutError(TimeoutError):
    """The job did not finish within the polling timeout (it keeps running in AWS)."""


class JobNameTakenError(ValueError):
    """A job with this name exists but was made from a different request."""


def sagemaker_client(region: str) -> Any:
    """A boto3 SageMaker client with botocore's standard retry mode."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "sagemaker", region_name=region, config=Config(retries={"mode": "standard"})
    )


def _error_code(error: Exception) -> str:
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _is_transient(error: Exception) -> bool:
    from botocore.exceptions import ConnectionError as BotoConnectionError
    from botocore.exceptions import ReadTimeoutError

    return _error_code(error) in _TRANSIENT_CODES or isinstance(
        error, BotoConnectionError | ReadTimeoutError
    )


def describe_job(client: Any, job_name: str) -> dict[str, Any] | None:
    """``DescribeLabelingJob``, or ``None`` when no job has this name."""
    from botocore.exceptions import ClientError

    try:
        return client.describe_labeling_job(LabelingJobName=job_name)
    except ClientError as error:
        if _error_code(error) in ("ResourceNotFound", "ResourceNotFoundException"):
            return None
        raise


def _check_same_job(existing: dict[str, Any], request: dict[str, Any]) -> None:
    def manifest(doc: dict[str, Any]) -> str:
        return doc["InputConfig"]["DataSource"]["S3DataSource"]["ManifestS3Uri"]

    for what, get in (
        ("label attribute", lambda d: d["LabelAttributeName"]),
        ("input manifest", manifest),
    ):
        if get(existing) != get(request):
            raise JobNameTakenError(
                f"labeling job {request['LabelingJobName']!r} already exists with {what} "
                f"{get(existing)!r}, expected {get(request)!r}; choose another --job-name"
            )


@dataclass(frozen=True)
class Submitted:
    job_name: str
    job_arn: str
    created: bool  # False: the job existed already (a resubmission)


def submit_job(
    client: Any, request: dict[str, Any], before_create: Callable[[], object] | None = None
) -> Submitted:
    """Create the job unless a job of that name (made from the same request) exists.

    ``before_create`` (the upload of the job's files) runs only when a job is created, so
    a resubmission never rewrites the files of a job that is already running.
    """
    from botocore.exceptions import ClientError

    name = request["LabelingJobName"]
    existing = describe_job(client, name)
    if existing is None:
        if before_create is not None:
            before_create()
        try:
            arn = client.create_labeling_job(**request)["LabelingJobArn"]
        except ClientError as error:
            if _error_code(error) != "ResourceInUse":
                raise
            existing = describe_job(client, name)  # created concurrently by another run
            if existing is None:
                raise
        else:
            log.info("created labeling job %s (%s)", name, arn)
            return Submitted(name, arn, True)
    _check_same_job(existing, request)
    log.info(
        "labeling job %s exists (%s): not submitted again", name, existing["LabelingJobStatus"]
    )
    return Submitted(name, existing["LabelingJobArn"], False)


def progress(counters: dict[str, int]) -> tuple[int, int, float]:
    """``(done, total, percent)`` from ``LabelCounters``; failed objects count as done."""
    done = int(counters.get("TotalLabeled", 0)) + int(counters.get("FailedNonRetryableError", 0))
    total = done + int(counters.get("Unlabeled", 0))
    return done, total, (100.0 * done / total if total else 0.0)


def progress_line(description: dict[str, Any]) -> str:
    counters = description.get("LabelCounters", {})
    done, total, percent = progress(counters)
    return (
        f"{description['LabelingJobName']}: {description['LabelingJobStatus']} "
        f"{done}/{total} ({percent:.0f}%) human {counters.get('HumanLabeled', 0)}, "
        f"machine {counters.get('MachineLabeled', 0)}, "
        f"failed {counters.get('FailedNonRetryableError', 0)}, "
        f"unlabeled {counters.get('Unlabeled', 0)}"
    )


def backoff_delays(initial_s: float, cap_s: float, rng: random.Random) -> Callable[[int], float]:
    """Delay before poll ``n``: ``min(cap, initial * 2**n)``, jittered to 50-100 %."""

    def delay(attempt: int) -> float:
        ceiling = min(cap_s, initial_s * 2 ** min(attempt, 30))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)

    return delay


def wait_for_job(
    client: Any,
    job_name: str,
    *,
    timeout_s: float = 6 * 3600,
    initial_delay_s: float = 15.0,
    max_delay_s: float = 600.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    rng: random.Random | None = None,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Poll until ``Completed`` or ``Stopped`` and return the last description.

    ``Failed`` raises :class:`LabelingJobFailedError` with the job's ``FailureReason``;
    running past ``timeout_s`` raises :class:`LabelingJobTimeoutError`.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    delay = backoff_delays(initial_delay_s, max_delay_s, rng or random.Random())
    deadline = clock() + timeout_s
    attempt = 0
    while True:
        try:
            description = client.describe_labeling_job(LabelingJobName=job_name)
        except (ClientError, BotoCoreError) as error:
            if not _is_transient(error):
                raise
            log.warning("%s: describe failed (%s), retrying", job_name, _error_code(error) or error)
        else:
            status = description["LabelingJobStatus"]
            # the callback (a Prefect run logger) reports progress; else this log does
            (log.debug if on_progress else log.info)(progress_line(description))
            if on_progress is not None:
                on_progress(description)
            if status == "Failed":
                reason = description.get("FailureReason", "no FailureReason given")
                raise LabelingJobFailedError(f"labeling job {job_name} failed: {reason}")
            if status in FINISHED:
                return description
        wait_s = delay(attempt)
        if clock() + wait_s > deadline:
            raise LabelingJobTimeoutError(
                f"labeling job {job_name} still running after {timeout_s:.0f} s; it keeps "
                "running in AWS: follow it later with --job-name or the poll-labeling-jobs flow"
            )
        sleep(wait_s)
        attempt += 1


def list_jobs(
    client: Any, status: str | None = None, name_contains: str | None = None
) -> list[dict[str, Any]]:
    """Every ``LabelingJobSummary`` (all pages), newest first."""
    kwargs: dict[str, Any] = {"SortBy": "CreationTime", "SortOrder": "Descending"}
    if status:
        kwargs["StatusEquals"] = status
    if name_contains:
        kwargs["NameContains"] = name_contains
    jobs: list[dict[str, Any]] = []
    for page in client.get_paginator("list_labeling_jobs").paginate(**kwargs):
        jobs.extend(page.get("LabelingJobSummaryList", []))
    return jobs


def stop_job(client: Any, job_name: str) -> None:
    """Ask AWS to stop the job; it passes through ``Stopping`` to ``Stopped``."""
    client.stop_labeling_job(LabelingJobName=job_name)
    log.info("stop requested for labeling job %s", job_name)


def job_status(client: Any, job_name: str) -> dict[str, Any]:
    """Name, ARN, status, counters and progress line of an existing job."""
    description = describe_job(client, job_name)
    if description is None:
        raise ValueError(f"no labeling job named {job_name!r}")
    return {
        "job_name": job_name,
        "job_arn": description["LabelingJobArn"],
        "status": description["LabelingJobStatus"],
        "label_counters": description.get("LabelCounters", {}),
        "progress": progress_line(description),
    }


def output_manifest_uri(description: dict[str, Any]) -> str:
    """``LabelingJobOutput.OutputDatasetS3Uri`` of a finished job."""
    output = description.get("LabelingJobOutput") or {}
    uri = output.get("OutputDatasetS3Uri")
    if not uri:
        raise ValueError(
            f"labeling job {description['LabelingJobName']} "
            f"({description['LabelingJobStatus']}) has no output manifest yet"
        )
    return uri


def job_tags(description: dict[str, Any]) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in description.get("Tags", [])}


def _confidence_summary(confidences: list[float]) -> dict[str, Any]:
    if not confidences:
        return {"count": 0}
    counts = [0] * (len(_CONFIDENCE_BINS) - 1)
    for value in confidences:
        index = next(
            (i for i, upper in enumerate(_CONFIDENCE_BINS[1:]) if value < upper), len(counts) - 1
        )
        counts[index] += 1
    labels = [f"{lo:.1f}-{hi:.1f}" for lo, hi in itertools.pairwise(_CONFIDENCE_BINS)]
    return {
        "count": len(confidences),
        "min": min(confidences),
        "median": statistics.median(confidences),
        "mean": statistics.fmean(confidences),
        "max": max(confidences),
        "histogram": dict(zip(labels, counts, strict=True)),
    }


def label_statistics(manifest_text: str, label_attribute: str) -> dict[str, Any]:
    """Objects, boxes per class (or verdicts) and worker confidences of an output manifest.

    A verification job's attribute holds one verdict per image (``class-name``) with its
    ``confidence`` in the metadata; a box job's holds boxes with per-object confidences.
    Counts only; reading boxes into the tables is ``tasks.annotations``' job.
    """
    objects = labeled = failed = 0
    per_class: Counter[str] = Counter()
    verdicts: Counter[str] = Counter()
    confidences: list[float] = []
    for line in manifest_text.splitlines():
        if not line.strip():
            continue
        objects += 1
        record = json.loads(line)
        metadata = record.get(f"{label_attribute}-metadata") or {}
        label = record.get(label_attribute)
        verification = metadata.get("type") == VERIFICATION_TYPE
        if "failure-reason" in metadata or not (verification or isinstance(label, dict)):
            failed += 1
            continue
        labeled += 1
        if verification:
            verdicts[str(metadata.get("class-name", ""))] += 1
            if "confidence" in metadata:
                confidences.append(float(metadata["confidence"]))
            continue
        class_map = metadata.get("class-map", {})
        for box in label.get("annotations", []):
            per_class[class_map.get(str(box.get("class_id")), str(box.get("class_id")))] += 1
        confidences.extend(
            float(o["confidence"]) for o in metadata.get("objects", []) if "confidence" in o
        )
    return {
        "objects": objects,
        "labeled_objects": labeled,
        "failed_objects": failed,
        "boxes": sum(per_class.values()),
        "boxes_per_class": dict(sorted(per_class.items())),
        "verdicts": dict(sorted(verdicts.items())),
        "confidence": _confidence_summary(confidences),
    }


def statistics_metrics(stats: dict[str, Any]) -> dict[str, float]:
    """:func:`label_statistics` flattened to MLflow metric names (``gt_...``)."""
    metrics = {
        f"gt_{key}": float(stats[key])
        for key in ("objects", "labeled_objects", "failed_objects", "boxes")
    }
    for prefix, counts in (
        ("gt_boxes_", stats["boxes_per_class"]),
        ("gt_verdict_", stats["verdicts"]),
    ):
        for name, count in counts.items():
            metrics[prefix + re.sub(r"[^A-Za-z0-9_.-]+", "_", name)] = float(count)
    for key in ("min", "median", "mean", "max"):
        if key in stats["confidence"]:
            metrics[f"gt_confidence_{key}"] = float(stats["confidence"][key])
    return metrics


def _progress_artifact(job_name: str) -> Callable[[dict[str, Any]], None]:
    """A callback that keeps one Prefect progress artifact of the job up to date."""
    from prefect.artifacts import create_progress_artifact, update_progress_artifact
    from prefect.logging import get_run_logger

    artifact: dict[str, Any] = {}
    logger = get_run_logger()

    def report(description: dict[str, Any]) -> None:
        _, _, percent = progress(description.get("LabelCounters", {}))
        line = progress_line(description)
        logger.info(line)
        if "id" not in artifact:
            key = "labeling-" + job_name.lower()
            artifact["id"] = create_progress_artifact(percent, key=key, description=line)
        else:
            update_progress_artifact(artifact["id"], percent, description=line)

    return report


def wait_with_progress(
    client: Any, job_name: str, timeout_s: float, initial_delay_s: float, max_delay_s: float = 600.0
) -> dict[str, Any]:
    """:func:`wait_for_job` reporting to a Prefect progress artifact and the run log."""
    return wait_for_job(
        client,
        job_name,
        timeout_s=timeout_s,
        initial_delay_s=initial_delay_s,
        max_delay_s=max_delay_s,
        on_progress=_progress_artifact(job_name),
    )


describe_job_task = io_task(describe_job, name="describe-labeling-job")
job_status_task = io_task(job_status, name="labeling-job-status")
stop_job_task = io_task(stop_job, name="stop-labeling-job")
wait_for_job_task = task(name="wait-for-labeling-job", cache_policy=NONE)(wait_with_progress)
