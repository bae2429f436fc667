"""Plan a labeling job: which images, what it costs, the files and the exact request.

:func:`plan_new_job` (images to label) and :func:`plan_chained_job` (an adjustment or
verification job on a finished job's output manifest) return a :class:`LabelingPlan`;
nothing is uploaded or submitted here. The job's folder is ``<job prefix>/<job name>/``:
a real job uploads the plan's files there, a dry run writes them to
``./labeling/<job name>/``.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pandas as pd

from tasks.labeling_cost import (
    DEFAULT_PER_OBJECT_FEE_USD,
    BudgetDecision,
    CostEstimate,
    apply_budget,
    cost_table,
    estimate_cost,
)
from tasks.labeling_job import (
    JobSettings,
    build_request,
    categories_text,
    check_classes,
    check_job_name,
    check_verdicts,
    derive_job_name,
    job_files,
    labeled_source_refs,
    lambda_arns,
    manifest_text,
)
from tasks.labeling_ui import template_html, verification_template_html
from tasks.storage import Store, is_s3, join, split_s3

log = logging.getLogger(__name__)

DEFAULT_INSTRUCTIONS = (
    "Draw a box around every object of the listed classes seen from the drone, "
    "including small and partly hidden ones."
)
ADJUST_INSTRUCTIONS = "Adjust the boxes drawn before: " + DEFAULT_INSTRUCTIONS
VERIFY_INSTRUCTIONS = (
    "Check the boxes drawn before: every object of the listed classes seen from the drone "
    "has one tight box with the right class, and no box is drawn around anything else."
)
DEFAULT_VERDICTS = ("correct", "incorrect")
DEFAULT_REJECTING_VERDICTS = ("incorrect",)
STAGED_IMAGES_FOLDER = "images"


@dataclass(frozen=True)
class LabelingPlan:
    job_name: str
    folder_uri: str  # <job prefix>/<job name>
    files: dict[str, str]  # file name -> text (manifest, categories, template, request, job)
    request: dict[str, Any]  # the exact CreateLabelingJob request
    estimate: CostEstimate
    decision: BudgetDecision
    table: str  # the cost table, as printed
    staged: list[tuple[str, str]]  # (local image, S3 URI) to upload before submitting


def default_job_prefix(source_uri: str) -> str:
    """``s3://<source bucket>/labeling`` for an S3 source; a local source must name one."""
    if not is_s3(source_uri):
        raise ValueError(
            f"source {source_uri!r} is local: Ground Truth reads images from S3, so give "
            "--job-prefix s3://BUCKET/PREFIX (the images are uploaded below it)"
        )
    bucket, _ = split_s3(source_uri)
    return f"s3://{bucket}/labeling"


_ROLE_ARN_RE = re.compile(r"^arn:aws[a-z\-]*:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+$")
_WORKTEAM_ARN_RE = re.compile(r"^arn:aws[a-z\-]*:sagemaker:[a-z0-9\-]*:[0-9]{12}:workteam/.+$")


def check_settings(settings: JobSettings, budget_usd: Decimal | str | float) -> None:
    """Refuse a bad configuration before anything is listed, read or written."""
    if not _ROLE_ARN_RE.match(settings.role_arn or ""):
        raise ValueError(f"--role-arn must be an IAM role ARN, got {settings.role_arn!r}")
    if not _WORKTEAM_ARN_RE.match(settings.workteam_arn or ""):
        raise ValueError(
            f"--workteam-arn must be a SageMaker workteam ARN, got {settings.workteam_arn!r}"
        )
    lambda_arns(settings.region)
    estimate_cost(1, settings.workers_per_object, settings.workteam_arn, settings.task_price_usd)
    if Decimal(str(budget_usd)) <= 0:
        raise ValueError(f"--budget-usd must be positive, got {budget_usd}")


def skipped_refs(manifest_uris: list[str], store: Store) -> set[str]:
    """``source-ref``s already in these manifests: images not to label again."""
    refs: set[str] = set()
    for uri in manifest_uris:
        refs |= labeled_source_refs(store.read_text(uri))
    return refs


def _source_refs(images: pd.DataFrame, folder_uri: str) -> tuple[list[str], list[tuple[str, str]]]:
    """S3 URIs of the images; local images get a staging URI below the job folder."""
    refs: list[str] = []
    staged: list[tuple[str, str]] = []
    for key, uri in zip(images["key"], images["uri"], strict=True):
        if is_s3(uri):
            refs.append(uri)
        else:
            target = join(folder_uri, STAGED_IMAGES_FOLDER, key)
            refs.append(target)
            staged.append((uri, target))
    return refs, staged


def _assemble(
    name: str,
    *,
    objects: int,
    files: tuple[str, str, str],
    record: dict[str, Any],
    settings: JobSettings,
    job_prefix_uri: str,
    budget_usd: Decimal | str | float,
    strict_budget: bool,
    per_object_fee_usd: Decimal | str | float,
    task_type: str = "label",
    staged: list[tuple[str, str]] | None = None,
) -> LabelingPlan:
    """Estimate and cap the cost, build the request, and gather the job's files.

    ``files`` is ``(manifest, categories, template)``; ``objects`` the manifest's lines.
    """
    estimate = estimate_cost(
        objects,
        settings.workers_per_object,
        settings.workteam_arn,
        settings.task_price_usd,
        per_object_fee_usd,
    )
    decision = apply_budget(estimate, budget_usd, strict_budget)
    log.info(decision.message)
    request = build_request(
        name,
        name,
        job_prefix_uri,
        settings,
        max_labeled_objects=decision.max_labeled_objects,
        task_type=task_type,
    )
    return LabelingPlan(
        name,
        join(job_prefix_uri, name),
        job_files(*files, request, record),
        request,
        estimate,
        decision,
        cost_table(estimate, budget_usd, decision),
        staged or [],
    )


def plan_new_job(
    images: pd.DataFrame,
    *,
    source_uri: str,
    classes: list[str],
    settings: JobSettings,
    budget_usd: Decimal | str | float,
    job_prefix_uri: str,
    job_name: str | None = None,
    strict_budget: bool = False,
    per_object_fee_usd: Decimal | str | float = DEFAULT_PER_OBJECT_FEE_USD,
    instructions: str = DEFAULT_INSTRUCTIONS,
) -> LabelingPlan:
    """Plan a bounding-box job over ``images`` (already selected for labeling)."""
    classes = check_classes(classes)
    if images.empty:
        raise ValueError(f"no images to label under {source_uri}")
    template = template_html(classes, instructions)
    name = (
        check_job_name(job_name)
        if job_name
        else derive_job_name(
            "droneprep", sorted(images["uri"]), classes, settings, str(budget_usd), template
        )
    )
    refs, staged = _source_refs(images, join(job_prefix_uri, name))
    record = {
        "source_uri": source_uri,
        "classes": classes,
        "label_attribute": name,
        "boxes_attribute": name,
        "chained_from": None,
    }
    return _assemble(
        name,
        objects=len(refs),
        files=(manifest_text(refs), categories_text(classes), template),
        record=record,
        settings=settings,
        job_prefix_uri=job_prefix_uri,
        budget_usd=budget_usd,
        strict_budget=strict_budget,
        per_object_fee_usd=per_object_fee_usd,
        staged=staged,
    )


def chainable_lines(manifest: str, audit_label_attribute: str) -> tuple[list[str], int]:
    """Output-manifest lines whose ``audit_label_attribute`` holds boxes, and how many do not.

    An image the previous job failed on has nothing to adjust or verify, and Ground Truth
    would charge for it anyway, so it is left out (AWS: filter the data before the job).
    """
    kept: list[str] = []
    skipped = 0
    for line in manifest.splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        label = record.get(audit_label_attribute)
        metadata = record.get(f"{audit_label_attribute}-metadata") or {}
        if isinstance(label, dict) and "annotations" in label and "failure-reason" not in metadata:
            kept.append(line)
        else:
            skipped += 1
    return kept, skipped


@dataclass(frozen=True)
class Chain:
    """What a follow-up job does with a finished job's output (``--chain-from``)."""

    kind: str = "adjustment"  # or "verification"
    extra_classes: tuple[str, ...] = ()  # adjustment only: classes the first job lacked
    verdicts: tuple[str, ...] = DEFAULT_VERDICTS  # verification only
    rejecting: tuple[str, ...] = DEFAULT_REJECTING_VERDICTS  # verdicts that drop an image


def plan_chained_job(
    previous: dict[str, Any],
    *,
    previous_manifest: str,
    record: dict[str, Any],
    chain: Chain,
    settings: JobSettings,
    budget_usd: Decimal | str | float,
    job_prefix_uri: str,
    job_name: str | None = None,
    strict_budget: bool = False,
    per_object_fee_usd: Decimal | str | float = DEFAULT_PER_OBJECT_FEE_USD,
) -> LabelingPlan:
    """Plan an adjustment or verification job on a finished job's output manifest.

    Both show the boxes of the previous job's box attribute (for a previous verification
    job, the boxes it verified), keep its classes in the categories file (AWS requires
    them) and write under a new label attribute. A verification job's categories file
    lists its verdicts first, then those classes; workers choose among the verdicts only.
    """
    audit = record.get("boxes_attribute") or previous["LabelAttributeName"]
    classes = list(record["classes"])
    if chain.kind == "verification":
        check_verdicts(list(chain.verdicts), list(chain.rejecting), classes)
        template = verification_template_html(
            classes, list(chain.verdicts), VERIFY_INSTRUCTIONS, audit
        )
        categories = categories_text([*chain.verdicts, *classes], audit_label_attribute=audit)
        suffix = "ver"
    elif chain.kind == "adjustment":
        classes = check_classes(classes + [c for c in chain.extra_classes if c not in classes])
        template = template_html(classes, ADJUST_INSTRUCTIONS, audit)
        categories = categories_text(classes, audit_label_attribute=audit)
        suffix = "adj"
    else:
        raise ValueError(f"chain type must be adjustment or verification, got {chain.kind!r}")
    lines, skipped = chainable_lines(previous_manifest, audit)
    if skipped:
        log.info("%d images without boxes in %s left out of the %s job", skipped, audit, chain.kind)
    if not lines:
        raise ValueError(
            f"--chain-from {previous['LabelingJobName']}: no image of its output has boxes "
            f"in {audit!r}, so there is nothing for a {chain.kind} job"
        )
    name = (
        check_job_name(job_name)
        if job_name
        else derive_job_name(
            f"{previous['LabelingJobName'][:36]}-{suffix}",
            previous["LabelingJobArn"],
            classes,
            chain,
            settings,
            str(budget_usd),
            template,
        )
    )
    new_record = {  # verdicts of a previous verification job are not inherited
        "source_uri": record["source_uri"],
        "classes": classes,
        "label_attribute": name,
        "boxes_attribute": audit if chain.kind == "verification" else name,
        "chained_from": previous["LabelingJobName"],
    }
    if chain.kind == "verification":
        new_record.update(verdicts=list(chain.verdicts), rejecting_verdicts=list(chain.rejecting))
    return _assemble(
        name,
        objects=len(lines),
        files=("\n".join(lines) + "\n", categories, template),
        record=new_record,
        settings=settings,
        job_prefix_uri=job_prefix_uri,
        budget_usd=budget_usd,
        strict_budget=strict_budget,
        per_object_fee_usd=per_object_fee_usd,
        task_type=chain.kind,
    )
