"""Label drone images with SageMaker Ground Truth, within a budget, and convert the output.

    python -m flows.label --source s3://BUCKET/raw-data/ --classes vehicle,person \\
        --role-arn arn:aws:iam::ACCT:role/R --workteam-arn arn:aws:sagemaker:...:workteam/... \\
        --budget-usd 100 [--workers-per-object 1] [--price-usd 0.036] [--dry-run] [--wait]
    python -m flows.label --job-name NAME [--wait]        # status of a job, or follow it
    python -m flows.label --job-name NAME --stop          # stop it (Stopped output converts)
    python -m flows.label --chain-from NAME ...           # adjustment job on NAME's output
    python -m flows.label --chain-from NAME --chain-type verification [--verdicts A,B] ...

Exit status: 0 done (or submitted), 1 the job failed or is still running at the timeout,
2 bad arguments or configuration, or over budget with ``--strict-budget``. A dry run
prints the folder it wrote as its last line.
"""

from __future__ import annotations

import argparse
import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from prefect import flow
from prefect.artifacts import create_markdown_artifact
from pydantic import BaseModel, Field, model_validator

from flows.cli import (
    EXIT_CONFIG,
    EXIT_INVALID,
    flow_parser,
    params_or_exit,
    quiet_environment,
    split_list,
)
from flows.profiling import profile_and_flag
from tasks import groundtruth
from tasks.discover import discover_task
from tasks.groundtruth import (
    LabelingJobFailedError,
    LabelingJobTimeoutError,
    describe_job_task,
    job_status_task,
    stop_job_task,
    wait_for_job_task,
)
from tasks.labeling_cost import DEFAULT_PER_OBJECT_FEE_USD, BudgetExceededError
from tasks.labeling_job import (
    JobSettings,
    check_classes,
    check_job_name,
    check_verdicts,
    select_for_labeling,
)
from tasks.labeling_plan import (
    DEFAULT_REJECTING_VERDICTS,
    DEFAULT_VERDICTS,
    Chain,
    LabelingPlan,
    check_settings,
    default_job_prefix,
    plan_chained_job,
    plan_new_job,
    skipped_refs,
)
from tasks.labeling_results import (
    dataset_name_for_job,
    job_result_task,
    jobs_to_convert_task,
    mark_converted,
    read_job_record,
    submit_plan_task,
    write_dry_run,
)
from tasks.run_record import record_labeling_job
from tasks.settings import Settings, make_store
from tasks.storage import Store


class LabelParams(BaseModel):
    """What ``label_with_ground_truth`` needs; checked before anything is read or written."""

    model_config = {"extra": "forbid"}

    source: str | None = Field(None, description="Image root (s3:// or local) of a new job.")
    classes: list[str] = Field(default_factory=list, description="Class names, in order.")
    role_arn: str | None = Field(None, description="IAM role Ground Truth assumes.")
    workteam_arn: str | None = Field(None, description="Private team or public-crowd ARN.")
    budget_usd: float | None = Field(None, gt=0, description="Most the job may cost.")
    region: str = Field("us-east-1", description="AWS region of the job.")
    workers_per_object: int = Field(1, ge=1, le=9)
    price_usd: str | None = Field(None, description="Price per task (public workforce only).")
    per_object_fee_usd: str = Field(str(DEFAULT_PER_OBJECT_FEE_USD), description="GT fee.")
    dry_run: bool = Field(False, description="Write the job's files locally; submit nothing.")
    wait: bool = Field(False, description="Follow the job to its end, then convert.")
    stop: bool = Field(False, description="Stop the job named by job_name.")
    job_name: str | None = Field(None, description="Job name (default: from the content).")
    strict_budget: bool = Field(False, description="Refuse, rather than cap, over budget.")
    chain_from: str | None = Field(None, description="Follow-up job on this job's output.")
    chain_type: Literal["adjustment", "verification"] = Field(
        "adjustment", description="What the follow-up job does with the previous boxes."
    )
    verdicts: list[str] = Field(
        default_factory=lambda: list(DEFAULT_VERDICTS), description="Verification choices."
    )
    reject_verdicts: list[str] = Field(
        default_factory=lambda: list(DEFAULT_REJECTING_VERDICTS),
        description="Verdicts that take an image's boxes out of the dataset.",
    )
    job_prefix: str | None = Field(None, description="S3 prefix for the job's files.")
    skip_labeled: list[str] = Field(default_factory=list, description="Manifests to skip.")
    dry_run_root: str = Field("labeling", description="Where a dry run writes.")
    dest: str | None = Field(None, description="Publish the finished job's dataset here.")
    prepare_options: dict[str, Any] = Field(
        default_factory=dict, description="More PrepareParams for the conversion (min_val, ...)."
    )
    timeout_s: float = Field(6 * 3600, gt=0, description="Stop following after this long.")
    poll_initial_delay_s: float = Field(15.0, ge=0)

    @property
    def new_job(self) -> bool:
        return bool(self.source or self.chain_from)

    def settings(self) -> JobSettings:
        return JobSettings(
            self.role_arn or "",
            self.workteam_arn or "",
            self.region,
            self.workers_per_object,
            self.price_usd,
        )

    @model_validator(mode="after")
    def _check(self) -> LabelParams:
        if self.job_name:
            check_job_name(self.job_name)
        if self.stop and (self.new_job or not self.job_name):
            raise ValueError("--stop needs --job-name (and no --source or --chain-from)")
        if not self.new_job:
            if not self.job_name:
                raise ValueError("give --source (a new job), --chain-from JOB or --job-name")
            return self
        if self.source and self.chain_from:
            raise ValueError("give --source or --chain-from, not both")
        if self.source:
            check_classes(self.classes)
            if self.chain_type != "adjustment":
                raise ValueError("--chain-type applies to --chain-from, not to --source")
        elif self.chain_type == "verification":
            if self.classes:
                raise ValueError("--classes adds classes to an adjustment job, not a verification")
            check_verdicts(self.verdicts, self.reject_verdicts, [])
        check_settings(self.settings(), self.budget_usd or 0)
        try:
            fee_ok = Decimal(self.per_object_fee_usd) >= 0
        except ArithmeticError:
            fee_ok = False
        if not fee_ok:
            raise ValueError(
                f"per-object fee must be a USD amount >= 0, got {self.per_object_fee_usd!r}"
            )
        return self


def _store(region: str) -> Store:
    settings = Settings()
    return make_store(settings.model_copy(update={"aws_region": settings.aws_region or region}))


class ConversionFailedError(RuntimeError):
    """The prepare flow did not publish the job's output (its expectations gate failed)."""


def _publish(
    result: dict[str, Any], record: dict[str, Any], dest: str, options: dict[str, Any]
) -> str:
    """Run the prepare flow on the job's output manifest; return the dataset URI."""
    from flows.params import PrepareParams
    from flows.prepare import prepare

    rejecting = record.get("rejecting_verdicts")
    params = PrepareParams(
        source=record["source_uri"],
        annotations=[result["output_manifest_uri"]],
        label_attribute=record.get("boxes_attribute") or result["label_attribute"],
        verification="drop:" + ",".join(rejecting) if rejecting else "keep",
        dest=dest,
        name=dataset_name_for_job(result["job_name"]),
        classes=record["classes"],
        **options,
    )
    state = prepare(params, return_state=True)
    summary = state.result(raise_on_failure=False)
    if not state.is_completed() or not isinstance(summary, dict):
        raise ConversionFailedError(
            f"labeling job {result['job_name']}: its output was not published: {state.message}"
        )
    return str(summary["dataset_uri"])


def _finish(
    client: Any,
    job_name: str,
    store: Store,
    *,
    dest: str | None,
    timeout_s: float,
    poll_s: float,
    prepare_options: dict[str, Any],
) -> dict[str, Any]:
    """Follow a job to its end, read its output, and publish it when ``dest`` is given."""
    description = wait_for_job_task(client, job_name, timeout_s, poll_s)
    result = job_result_task(description, store)
    settings = Settings()
    result["mlflow_run_id"] = record_labeling_job(
        result, experiment=settings.experiment, workdir=Path(settings.workdir)
    )
    if dest:
        record = read_job_record(description, store)
        result["dataset_uri"] = _publish(result, record, dest, prepare_options)
        mark_converted(description, result["dataset_uri"], store)
    return result


def _plan(client: Any, store: Store, params: LabelParams, options: dict[str, Any]) -> LabelingPlan:
    settings, chain_from = params.settings(), params.chain_from
    if chain_from:
        previous = describe_job_task(client, chain_from)
        if previous is None or previous["LabelingJobStatus"] not in groundtruth.FINISHED:
            raise ValueError(f"--chain-from {chain_from}: no finished labeling job of that name")
        record = read_job_record(previous, store)
        return plan_chained_job(
            previous,
            previous_manifest=store.read_text(groundtruth.output_manifest_uri(previous)),
            record=record,
            chain=Chain(
                params.chain_type,
                tuple(params.classes),
                tuple(params.verdicts),
                tuple(params.reject_verdicts),
            ),
            settings=settings,
            job_prefix_uri=params.job_prefix or default_job_prefix(record["source_uri"]),
            **options,
        )
    images, _ = discover_task(params.source, store)
    images = profile_and_flag(images, store).images
    selected = select_for_labeling(images, skipped_refs(params.skip_labeled, store))
    return plan_new_job(
        selected,
        source_uri=params.source,
        classes=params.classes,
        settings=settings,
        job_prefix_uri=params.job_prefix or default_job_prefix(params.source),
        **options,
    )


@flow(name="label-with-ground-truth", validate_parameters=True)
def label_with_ground_truth(params: LabelParams) -> dict[str, Any]:
    """Plan, estimate, submit (or dry-run) a bounding-box, adjustment or verification job;
    optionally wait for it and convert its output."""
    store = _store(params.region)
    client = groundtruth.sagemaker_client(params.region)
    follow = {
        "dest": params.dest,
        "timeout_s": params.timeout_s,
        "poll_s": params.poll_initial_delay_s,
        "prepare_options": params.prepare_options,
    }
    if not params.new_job:  # an existing job: stop it, report its status, or follow it
        if params.stop:
            stop_job_task(client, params.job_name)
        if not params.wait:
            return job_status_task(client, params.job_name)
        return _finish(client, params.job_name, store, **follow)
    options = {
        "budget_usd": Decimal(str(params.budget_usd)),
        "job_name": params.job_name,
        "strict_budget": params.strict_budget,
        "per_object_fee_usd": Decimal(params.per_object_fee_usd),
    }
    plan = _plan(client, store, params, options)
    summary: dict[str, Any] = {
        "job_name": plan.job_name,
        "cost_table": plan.table,
        "budget": plan.decision.message,
        "capped": plan.decision.capped,
    }
    create_markdown_artifact(
        f"```\n{plan.table}\n```\n\n{plan.decision.message}", key="labeling-cost-estimate"
    )
    if params.dry_run:
        summary["dry_run_folder"] = write_dry_run(plan, params.dry_run_root, store)
        return summary
    submitted = submit_plan_task(client, plan, store)
    summary.update(job_arn=submitted.job_arn, created=submitted.created)
    if params.wait:
        summary.update(_finish(client, plan.job_name, store, **follow))
    return summary


@flow(name="poll-labeling-jobs")
def poll_labeling_jobs(
    dest: str, region: str = "us-east-1", prepare_options: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Convert every finished droneprep labeling job not converted yet (run on a schedule)."""
    store = _store(region)
    client = groundtruth.sagemaker_client(region)
    results = []
    for description in jobs_to_convert_task(client, store):
        name = description["LabelingJobName"]
        results.append(
            _finish(
                client,
                name,
                store,
                dest=dest,
                timeout_s=60.0,
                poll_s=0.0,
                prepare_options=prepare_options or {},
            )
        )
    return results


def _parser() -> argparse.ArgumentParser:
    parser = flow_parser("label", __doc__)
    add = parser.add_argument
    add("--source", help="image root of a new job: s3:// or a local folder")
    add("--classes", type=split_list, help="class names, comma-separated")
    add("--role-arn", help="IAM role Ground Truth assumes")
    add("--workteam-arn", help="private team, vendor or public-crowd workteam ARN")
    add("--budget-usd", type=float, help="most the job may cost (USD)")
    add("--region", help="AWS region of the job (default us-east-1)")
    add("--workers-per-object", type=int, help="workers per image, 1-9 (default 1)")
    add("--price-usd", help="price per task, public workforce only (e.g. 0.036)")
    add("--per-object-fee-usd", help="Ground Truth fee per object (default 0.08)")
    add("--dry-run", action="store_true", default=None, help="write ./labeling/<job>/ only")
    add("--wait", action="store_true", default=None, help="follow the job, then convert")
    add("--job-name", help="job name; alone: the status of that job")
    add("--stop", action="store_true", default=None, help="stop the job named by --job-name")
    add("--strict-budget", action="store_true", default=None, help="refuse over budget")
    add("--chain-from", metavar="JOB", help="follow-up job on JOB's output manifest")
    add("--chain-type", choices=["adjustment", "verification"], help="default adjustment")
    add("--verdicts", type=split_list, help="verification choices (default correct,incorrect)")
    add("--reject-verdicts", type=split_list, help="verdicts that drop an image (incorrect)")
    add("--job-prefix", help="S3 prefix for the job's files (default s3://BUCKET/labeling)")
    add("--skip-labeled", action="append", metavar="MANIFEST", help="skip its images")
    add("--dest", help="publish the finished job's dataset here (with --wait)")
    add("--timeout-s", type=float, help="stop following after this many seconds")
    return parser


def _print_summary(summary: dict[str, Any]) -> None:
    if "cost_table" in summary:
        print(summary["cost_table"])
        print(summary["budget"])
    if "statistics" in summary:
        print(json.dumps(summary["statistics"], indent=2))
    if "job_arn" in summary:
        print(f"labeling job {summary['job_name']}: {summary['job_arn']}")
    if "progress" in summary:
        print(summary["progress"])
    last = summary.get("dry_run_folder") or summary.get("dataset_uri")
    print(last or summary.get("output_manifest_uri") or summary["job_name"])


def main(argv: list[str] | None = None) -> int:
    quiet_environment()
    params = params_or_exit(LabelParams, vars(_parser().parse_args(argv)))
    try:
        summary = label_with_ground_truth(params)
    except (BudgetExceededError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_CONFIG
    except (LabelingJobFailedError, LabelingJobTimeoutError, ConversionFailedError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_INVALID
    _print_summary(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
