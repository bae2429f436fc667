"""From a labeling plan to S3 and back: upload, dry-run files, finished-job results.

A finished job (``Completed`` or ``Stopped``) is converted once: after its dataset is
published, ``converted.json`` is written to the job's folder, and the scheduled
``poll-labeling-jobs`` flow skips jobs that have one.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tasks.groundtruth import (
    FINISHED,
    Submitted,
    describe_job,
    job_tags,
    label_statistics,
    list_jobs,
    output_manifest_uri,
    submit_job,
)
from tasks.labeling_job import DRONEPREP_TAG, JOB_FILE, write_job_files
from tasks.labeling_plan import LabelingPlan
from tasks.retrying import io_task
from tasks.storage import Store, join

log = logging.getLogger(__name__)

CONVERTED_FILE = "converted.json"


def job_folder_uri(description: dict[str, Any]) -> str:
    """The job's folder: where its input manifest (and droneprep's files) live."""
    manifest = description["InputConfig"]["DataSource"]["S3DataSource"]["ManifestS3Uri"]
    return manifest.rsplit("/", 1)[0]


def read_job_record(description: dict[str, Any], store: Store) -> dict[str, Any]:
    """droneprep's ``job.json`` (source, classes, label attribute) of a job it submitted."""
    uri = join(job_folder_uri(description), JOB_FILE)
    if not store.exists(uri):
        raise ValueError(
            f"labeling job {description['LabelingJobName']} has no {uri}: it was not "
            "submitted by droneprep"
        )
    return json.loads(store.read_text(uri))


def write_dry_run(plan: LabelingPlan, dry_run_root: str, store: Store) -> str:
    """Write the plan's files to ``<dry_run_root>/<job name>/``; return that folder."""
    folder = str(Path(dry_run_root, plan.job_name).absolute())
    write_job_files(plan.files, folder, store)
    return folder


def upload_plan(plan: LabelingPlan, store: Store) -> list[str]:
    """Stage local images to S3 (when the source is local), then upload the job's files."""
    for local_uri, s3_uri in plan.staged:
        store.copy(local_uri, s3_uri)
    if plan.staged:
        log.info("staged %d local images below %s", len(plan.staged), plan.folder_uri)
    return write_job_files(plan.files, plan.folder_uri, store)


def submit_plan(client: Any, plan: LabelingPlan, store: Store) -> Submitted:
    """Upload the plan's files and create its job; a job that exists is found, not touched."""
    return submit_job(client, plan.request, before_create=lambda: upload_plan(plan, store))


def job_result(description: dict[str, Any], store: Store) -> dict[str, Any]:
    """The output manifest URI and label statistics of a finished job (for MLflow)."""
    manifest_uri = output_manifest_uri(description)
    label_attribute = description["LabelAttributeName"]
    stats = label_statistics(store.read_text(manifest_uri), label_attribute)
    log.info(
        "%s: %d objects, %d boxes %s",
        description["LabelingJobName"],
        stats["objects"],
        stats["boxes"],
        stats["boxes_per_class"],
    )
    return {
        "job_name": description["LabelingJobName"],
        "job_arn": description["LabelingJobArn"],
        "status": description["LabelingJobStatus"],
        "label_attribute": label_attribute,
        "output_manifest_uri": manifest_uri,
        "label_counters": description.get("LabelCounters", {}),
        "statistics": stats,
    }


def dataset_name_for_job(job_name: str) -> str:
    """A dataset name (lowercase, ``_``, at most 50 characters) for a job's output."""
    return re.sub(r"[^a-z0-9_-]", "_", job_name.lower())[:50]


def mark_converted(description: dict[str, Any], dataset_uri: str, store: Store) -> str:
    uri = join(job_folder_uri(description), CONVERTED_FILE)
    record = {
        "job_name": description["LabelingJobName"],
        "dataset_uri": dataset_uri,
        "converted_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    store.write_text(uri, json.dumps(record, indent=2) + "\n", content_type="application/json")
    return uri


def jobs_to_convert(client: Any, store: Store) -> list[dict[str, Any]]:
    """Finished droneprep jobs (every page of the listing) not converted yet."""
    pending = []
    for status in FINISHED:
        for summary in list_jobs(client, status=status):
            description = describe_job(client, summary["LabelingJobName"])
            if description is None or DRONEPREP_TAG not in job_tags(description):
                continue
            if store.exists(join(job_folder_uri(description), CONVERTED_FILE)):
                continue
            pending.append(description)
    log.info("%d finished labeling jobs to convert", len(pending))
    return pending


submit_plan_task = io_task(submit_plan, name="submit-labeling-job", retries=2)
job_result_task = io_task(job_result, name="labeling-job-result")
jobs_to_convert_task = io_task(jobs_to_convert, name="labeling-jobs-to-convert")
