"""Everything a Ground Truth bounding-box job is made of, before it is submitted.

The input manifest (JSON lines of ``source-ref``), the label categories file and the
exact ``CreateLabelingJob`` request (the worker templates are ``tasks.labeling_ui``'s): built
as plain values here, written under the job's folder by :func:`write_job_files` (S3 for a
real job, ``./labeling/<job name>/`` for a dry run).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from tasks.labeling_cost import check_task_price, is_public_workteam, usd_amount
from tasks.storage import Store, is_s3, join
from tasks.tables import STATUS_QUARANTINED

log = logging.getLogger(__name__)

# AWS-owned Lambda accounts for the built-in bounding-box task types, from the SageMaker API
# reference (HumanTaskConfig.PreHumanTaskLambdaArn, AnnotationConsolidationConfig).
_GT_LAMBDA_ACCOUNTS = {
    "us-east-1": "432418664414",
    "us-east-2": "266458841044",
    "us-west-2": "081040173940",
    "ca-central-1": "918755190332",
    "eu-west-1": "568282634449",
    "eu-west-2": "487402164563",
    "eu-central-1": "203001061592",
    "ap-northeast-1": "477331159723",
    "ap-northeast-2": "845288260483",
    "ap-south-1": "565803892007",
    "ap-southeast-1": "377565633583",
    "ap-southeast-2": "454466003867",
}
TASK_TYPES = {
    "label": "BoundingBox",
    "adjustment": "AdjustmentBoundingBox",
    "verification": "VerificationBoundingBox",
}
JOB_NAME_RE = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
CATEGORIES_DOCUMENT_VERSION = "2018-11-28"
CONTENT_CLASSIFIERS = ("FreeOfPersonallyIdentifiableInformation", "FreeOfAdultContent")
DRONEPREP_TAG = "droneprep"
MANIFEST_FILE = "manifest.jsonl"
CATEGORIES_FILE = "categories.json"
TEMPLATE_FILE = "template.liquid.html"
REQUEST_FILE = "request.json"
JOB_FILE = "job.json"  # droneprep's own record: source, classes, label attribute
OUTPUT_FOLDER = "output"


def lambda_arns(region: str, task_type: str = "label") -> tuple[str, str]:
    """``(PreHumanTaskLambdaArn, AnnotationConsolidationLambdaArn)`` of the region."""
    if region not in _GT_LAMBDA_ACCOUNTS:
        known = ", ".join(sorted(_GT_LAMBDA_ACCOUNTS))
        raise ValueError(
            f"Ground Truth has no built-in bounding-box Lambdas in region {region!r}; "
            f"expected one of {known}"
        )
    suffix = TASK_TYPES[task_type]
    base = f"arn:aws:lambda:{region}:{_GT_LAMBDA_ACCOUNTS[region]}:function"
    return f"{base}:PRE-{suffix}", f"{base}:ACS-{suffix}"


def check_job_name(name: str) -> str:
    if not JOB_NAME_RE.match(name):
        raise ValueError(
            f"labeling job name {name!r} must be 1-63 letters, digits and '-', starting and "
            "ending with a letter or digit"
        )
    if name.endswith(("-ref", "-metadata")):
        raise ValueError(f"labeling job name {name!r} must not end with -ref or -metadata")
    return name


def derive_job_name(prefix: str, *parts: object) -> str:
    """``<prefix>-<12 hex digits>`` from the content: the same request gets the same name."""
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()
    stem = re.sub(r"[^a-zA-Z0-9]+", "-", prefix).strip("-")[:50] or "droneprep"
    return check_job_name(f"{stem}-{digest[:12]}")


def check_classes(classes: list[str]) -> list[str]:
    names = [c.strip() for c in classes]
    if not names or any(not n for n in names):
        raise ValueError(f"--classes needs one or more non-empty names, got {classes!r}")
    if len(set(names)) != len(names):
        raise ValueError(f"--classes has duplicates: {names}")
    return names


def check_verdicts(verdicts: list[str], rejecting: list[str], classes: list[str]) -> None:
    """A verification job needs two or more verdicts, some accepting and some rejecting.

    The verdicts share the categories file with the classes, so no name may be both.
    """
    names = check_classes(verdicts)
    if len(names) < 2:
        raise ValueError(f"--verdicts needs two or more names, got {verdicts}")
    if any("," in name for name in names):
        raise ValueError(f"a verdict may not contain ',', got {names}")
    if unknown := [r for r in rejecting if r not in names]:
        raise ValueError(f"--reject-verdicts {unknown} are not among the verdicts {names}")
    if not rejecting or set(rejecting) == set(names):
        raise ValueError(
            f"--reject-verdicts must name some but not all of the verdicts {names}, got {rejecting}"
        )
    if both := sorted(set(names) & set(classes)):
        raise ValueError(f"{both} is both a verdict and a class; rename the verdict")


def labeled_source_refs(manifest_text: str) -> set[str]:
    """``source-ref`` of every line of a Ground Truth manifest (input or output)."""
    refs: set[str] = set()
    for line in manifest_text.splitlines():
        if line.strip():
            ref = json.loads(line).get("source-ref")
            if ref:
                refs.add(ref)
    return refs


def select_for_labeling(images: pd.DataFrame, skip_refs: set[str]) -> pd.DataFrame:
    """Profiled images to label: not quarantined, and not in ``skip_refs`` (by URI)."""
    keep = ~images["uri"].isin(skip_refs) & (images["status"] != STATUS_QUARANTINED)
    selected = images.loc[keep].sort_values("key", kind="stable").reset_index(drop=True)
    log.info(
        "%d of %d images selected for labeling (%d skipped)",
        len(selected),
        len(images),
        len(images) - len(selected),
    )
    return selected


def manifest_text(source_refs: list[str]) -> str:
    """The input manifest: one ``{"source-ref": "s3://..."}`` JSON object per line."""
    bad = [ref for ref in source_refs if not is_s3(ref)]
    if bad:
        raise ValueError(f"Ground Truth reads images from S3 only, got {bad[0]!r}")
    return "".join(json.dumps({"source-ref": ref}) + "\n" for ref in source_refs)


def categories_text(classes: list[str], audit_label_attribute: str | None = None) -> str:
    """The label category configuration file (document version 2018-11-28)."""
    doc: dict[str, Any] = {"document-version": CATEGORIES_DOCUMENT_VERSION}
    if audit_label_attribute:
        doc["auditLabelAttributeName"] = audit_label_attribute
    doc["labels"] = [{"label": name} for name in check_classes(classes)]
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


@dataclass(frozen=True)
class JobSettings:
    """What a user chooses about a job, beyond its images and classes."""

    role_arn: str
    workteam_arn: str
    region: str
    workers_per_object: int = 1
    task_price_usd: Any = None  # per worker per object; public workforces only
    task_title: str = "Draw boxes around objects in drone images"
    task_description: str = "Draw a tight box around every object of the listed classes."
    task_keywords: tuple[str, ...] = ("image", "bounding box", "drone", "object detection")
    task_time_limit_s: int = 600
    task_availability_lifetime_s: int = 864000  # 10 days
    max_concurrent_task_count: int = 1000
    content_classifiers: tuple[str, ...] = CONTENT_CLASSIFIERS
    kms_key_id: str | None = None
    tags: dict[str, str] = field(default_factory=dict)


def build_request(
    job_name: str,
    label_attribute: str,
    job_prefix_uri: str,
    settings: JobSettings,
    *,
    max_labeled_objects: int,
    task_type: str = "label",
) -> dict[str, Any]:
    """The exact ``CreateLabelingJob`` request for a job whose files are at ``job_prefix_uri``."""
    check_job_name(job_name)
    check_job_name(label_attribute)
    pre_arn, acs_arn = lambda_arns(settings.region, task_type)
    folder = join(job_prefix_uri, job_name)
    human: dict[str, Any] = {
        "WorkteamArn": settings.workteam_arn,
        "UiConfig": {"UiTemplateS3Uri": join(folder, TEMPLATE_FILE)},
        "PreHumanTaskLambdaArn": pre_arn,
        "TaskKeywords": list(settings.task_keywords),
        "TaskTitle": settings.task_title,
        "TaskDescription": settings.task_description,
        "NumberOfHumanWorkersPerDataObject": settings.workers_per_object,
        "TaskTimeLimitInSeconds": settings.task_time_limit_s,
        "TaskAvailabilityLifetimeInSeconds": settings.task_availability_lifetime_s,
        "MaxConcurrentTaskCount": settings.max_concurrent_task_count,
        "AnnotationConsolidationConfig": {"AnnotationConsolidationLambdaArn": acs_arn},
    }
    if is_public_workteam(settings.workteam_arn):  # private teams are not paid per task
        price = check_task_price(settings.task_price_usd)
        human["PublicWorkforceTaskPrice"] = {"AmountInUsd": usd_amount(price)}
    output: dict[str, Any] = {"S3OutputPath": join(folder, OUTPUT_FOLDER) + "/"}
    if settings.kms_key_id:
        output["KmsKeyId"] = settings.kms_key_id
    tags = {DRONEPREP_TAG: task_type, **settings.tags}
    return {
        "LabelingJobName": job_name,
        "LabelAttributeName": label_attribute,
        "InputConfig": {
            "DataSource": {"S3DataSource": {"ManifestS3Uri": join(folder, MANIFEST_FILE)}},
            "DataAttributes": {"ContentClassifiers": list(settings.content_classifiers)},
        },
        "OutputConfig": output,
        "RoleArn": settings.role_arn,
        "LabelCategoryConfigS3Uri": join(folder, CATEGORIES_FILE),
        "StoppingConditions": {"MaxHumanLabeledObjectCount": max_labeled_objects},
        "HumanTaskConfig": human,
        "Tags": [{"Key": k, "Value": v} for k, v in sorted(tags.items())],
    }


def job_files(
    manifest: str, categories: str, template: str, request: dict[str, Any], job: dict[str, Any]
) -> dict[str, str]:
    """File name -> text of everything a job uploads (and a dry run writes)."""
    return {
        MANIFEST_FILE: manifest,
        CATEGORIES_FILE: categories,
        TEMPLATE_FILE: template,
        REQUEST_FILE: json.dumps(request, indent=2) + "\n",
        JOB_FILE: json.dumps(job, indent=2, sort_keys=True) + "\n",
    }


_CONTENT_TYPES = {".json": "application/json", ".jsonl": "application/jsonl", ".html": "text/html"}


def write_job_files(files: dict[str, str], folder_uri: str, store: Store) -> list[str]:
    """Write the files below ``folder_uri`` (S3 or local); return their URIs."""
    uris = []
    for name, text in sorted(files.items()):
        uri = join(folder_uri, name)
        content_type = _CONTENT_TYPES.get("." + name.rsplit(".", 1)[-1])
        store.write_text(uri, text, content_type=content_type)
        uris.append(uri)
    log.info("wrote %d job files to %s", len(uris), folder_uri)
    return uris
