"""Label drone images with SageMaker Ground Truth, within a budget, and convert the output.

    python -m flows.label --source s3://BUCKET/raw-data/ --classes vehicle,person \\
        --role-arn arn:aws:iam::ACCT:role/R --workteam-arn arn:aws:sagemaker:...:workteam/... \\
        --budget-usd 100 [--workers-per-object 1] [--price-usd 0.036] [--dry-run] [--wait]
    python -m flows.label --job-name NAME [--wait]        # status of a job, or follow it
    python -m flows.label --chain-from NAME ...           # adjustment job on NAME's output

Exit status: 0 done (or submitted), 1 the job failed or is still running at the timeout,
2 bad arguments or configuration, or over budget with ``--strict-budget``. A dry run
prints the folder it wrote as its last line.
"""

from __future__ import annotations

import argparse
import json
import sys
from decimal import Decimal
from typing import Any

from prefect import flow

from tasks import groundtruth
from tasks.discover import discover_task
from tasks.groundtruth import (
    LabelingJobFailedError,
    LabelingJobTimeoutError,
    describe_job_task,
    job_status_task,
    wait_for_job_task,
)
from tasks.labeling_cost import DEFAULT_PER_OBJECT_FEE_USD, BudgetExceededError
from tasks.labeling_job import JobSettings, select_for_labeling
from tasks.labeling_plan import (
    LabelingPlan,
    check_settings,
    default_job_prefix,
    plan_adjustment_job,
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
from tasks.storage import Store


def _publish(result: dict[str, Any], record: dict[str, Any], dest: str) -> str:
    """Run the prepare flow on the job's output manifest; return the dataset URI."""
    from flows.prepare import prepare

    return str(
        prepare(
            source=record["source_uri"],
            annotations=[result["output_manifest_uri"]],
            dest=dest,
            name=dataset_name_for_job(result["job_name"]),
            classes=record["classes"],
        )
    )


def _finish(
    client: Any, job_name: str, store: Store, *, dest: str | None, timeout_s: float, poll_s: float
) -> dict[str, Any]:
    """Follow a job to its end, read its output, and publish it when ``dest`` is given."""
    description = wait_for_job_task(client, job_name, timeout_s, poll_s)
    result = job_result_task(description, store)
    if dest:
        result["dataset_uri"] = _publish(result, read_job_record(description, store), dest)
        mark_converted(description, result["dataset_uri"], store)
    return result


def _plan(
    client: Any,
    store: Store,
    settings: JobSettings,
    *,
    source: str | None,
    classes: list[str],
    chain_from: str | None,
    job_prefix: str | None,
    skip_labeled: list[str],
    options: dict[str, Any],
) -> LabelingPlan:
    if chain_from:
        previous = describe_job_task(client, chain_from)
        if previous is None or previous["LabelingJobStatus"] not in groundtruth.FINISHED:
            raise ValueError(f"--chain-from {chain_from}: no finished labeling job of that name")
        record = read_job_record(previous, store)
        return plan_adjustment_job(
            previous,
            previous_manifest=store.read_text(groundtruth.output_manifest_uri(previous)),
            previous_categories=store.read_text(previous["LabelCategoryConfigS3Uri"]),
            record=record,
            settings=settings,
            job_prefix_uri=job_prefix or default_job_prefix(record["source_uri"]),
            extra_classes=tuple(classes),
            **options,
        )
    images, _ = discover_task(source, store)
    selected = select_for_labeling(images, skipped_refs(skip_labeled, store))
    return plan_new_job(
        selected,
        source_uri=source,
        classes=classes,
        settings=settings,
        job_prefix_uri=job_prefix or default_job_prefix(source),
        **options,
    )


@flow(name="label-with-ground-truth")
def label_with_ground_truth(
    source: str | None = None,
    *,
    classes: list[str] | None = None,
    role_arn: str = "",
    workteam_arn: str = "",
    budget_usd: float = 0.0,
    region: str = "us-east-1",
    workers_per_object: int = 1,
    price_usd: str | None = None,
    dry_run: bool = False,
    wait: bool = False,
    job_name: str | None = None,
    strict_budget: bool = False,
    chain_from: str | None = None,
    job_prefix: str | None = None,
    skip_labeled: list[str] | None = None,
    per_object_fee_usd: str = str(DEFAULT_PER_OBJECT_FEE_USD),
    dry_run_root: str = "labeling",
    dest: str | None = None,
    timeout_s: float = 6 * 3600,
    poll_initial_delay_s: float = 15.0,
) -> dict[str, Any]:
    """Plan, estimate, submit (or dry-run) a bounding-box job; optionally wait and convert."""
    store = Store(region_name=region)
    client = groundtruth.sagemaker_client(region)
    if job_name and not (source or chain_from):  # an existing job: its status, or follow it
        if not wait:
            return job_status_task(client, job_name)
        return _finish(
            client, job_name, store, dest=dest, timeout_s=timeout_s, poll_s=poll_initial_delay_s
        )
    if not (source or chain_from):
        raise ValueError("give --source (a new job), --chain-from or --job-name")
    settings = JobSettings(role_arn, workteam_arn, region, workers_per_object, price_usd)
    check_settings(settings, budget_usd)
    options = {
        "budget_usd": Decimal(str(budget_usd)),
        "job_name": job_name,
        "strict_budget": strict_budget,
        "per_object_fee_usd": Decimal(per_object_fee_usd),
    }
    plan = _plan(
        client,
        store,
        settings,
        source=source,
        classes=classes or [],
        chain_from=chain_from,
        job_prefix=job_prefix,
        skip_labeled=skip_labeled or [],
        options=options,
    )
    summary: dict[str, Any] = {
        "job_name": plan.job_name,
        "cost_table": plan.table,
        "budget": plan.decision.message,
        "capped": plan.decision.capped,
    }
    if dry_run:
        summary["dry_run_folder"] = write_dry_run(plan, dry_run_root, store)
        return summary
    submitted = submit_plan_task(client, plan, store)
    summary.update(job_arn=submitted.job_arn, created=submitted.created)
    if wait:
        finished = _finish(
            client,
            plan.job_name,
            store,
            dest=dest,
            timeout_s=timeout_s,
            poll_s=poll_initial_delay_s,
        )
        summary.update(finished)
    return summary


@flow(name="poll-labeling-jobs")
def poll_labeling_jobs(dest: str, region: str = "us-east-1") -> list[dict[str, Any]]:
    """Convert every finished droneprep labeling job not converted yet (run on a schedule)."""
    store = Store(region_name=region)
    client = groundtruth.sagemaker_client(region)
    results = []
    for description in jobs_to_convert_task(client, store):
        name = description["LabelingJobName"]
        results.append(_finish(client, name, store, dest=dest, timeout_s=60.0, poll_s=0.0))
    return results


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m flows.label", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--source", help="image root URI (s3:// or a local folder)")
    parser.add_argument("--classes", default="", help="comma-separated class names")
    parser.add_argument("--role-arn", default="")
    parser.add_argument("--workteam-arn", default="")
    parser.add_argument("--budget-usd", type=float, default=0.0)
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--workers-per-object", type=int, default=1)
    parser.add_argument("--price-usd", help="price per task, public workforce only")
    parser.add_argument("--per-object-fee-usd", default=str(DEFAULT_PER_OBJECT_FEE_USD))
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("--wait", action="store_true")
    parser.add_argument("--job-name")
    parser.add_argument("--strict-budget", action="store_true")
    parser.add_argument("--chain-from", metavar="JOB", help="adjustment job on JOB's output")
    parser.add_argument(
        "--job-prefix", help="S3 prefix for job files (default s3://BUCKET/labeling)"
    )
    parser.add_argument("--skip-labeled", action="append", default=[], metavar="MANIFEST")
    parser.add_argument("--dest", help="publish the finished job's dataset here")
    parser.add_argument("--timeout-s", type=float, default=6 * 3600)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        summary = label_with_ground_truth(
            source=args.source,
            classes=[c for c in args.classes.split(",") if c.strip()],
            role_arn=args.role_arn,
            workteam_arn=args.workteam_arn,
            budget_usd=args.budget_usd,
            region=args.region,
            workers_per_object=args.workers_per_object,
            price_usd=args.price_usd,
            dry_run=args.dry_run,
            wait=args.wait,
            job_name=args.job_name,
            strict_budget=args.strict_budget,
            chain_from=args.chain_from,
            job_prefix=args.job_prefix,
            skip_labeled=args.skip_labeled,
            per_object_fee_usd=args.per_object_fee_usd,
            dest=args.dest,
            timeout_s=args.timeout_s,
        )
    except (BudgetExceededError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (LabelingJobFailedError, LabelingJobTimeoutError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
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
    last = last or summary.get("output_manifest_uri") or summary.get("job_name")
    print(last)
    return 0


if __name__ == "__main__":
    sys.exit(main())
