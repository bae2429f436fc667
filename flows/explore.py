"""``python -m flows.explore --source URI``: what is in this bucket, and what is wrong with it.

Discover the images, profile every one of them (batched, mapped, cached per content),
flag them against the dataset's own distribution, and write the data-quality report.
"""

import argparse
import sys
from pathlib import Path
from typing import Any

from prefect import flow
from prefect.artifacts import create_markdown_artifact
from prefect.runtime import flow_run

from flows.cli import EXIT_CONFIG, EXIT_OK, flow_parser, quiet_environment
from flows.profiling import DEFAULT_BATCH_SIZE, profile_and_flag
from tasks import tracking
from tasks.annotations import AnnotationSet, read_annotations_task, resolve_boxes_task
from tasks.discover import discover_task
from tasks.profile import DEFAULT_MAX_PIXELS, DEFAULT_NEAR_DUP_DISTANCE, check_profile_params
from tasks.report import render_report_task, save_report_task
from tasks.run_record import record_profile
from tasks.settings import DEFAULT_EXPERIMENT, Settings, make_store
from tasks.storage import join


def check_parameters(batch_size: int, workers: int, max_pixels: int, near_dup: int) -> None:
    """Bad configuration stops the run before anything is read."""
    check_profile_params(max_pixels, workers)
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if not 0 <= near_dup < 64:
        raise ValueError(f"near_dup_distance must be in [0, 63] bits, got {near_dup}")


@flow(name="explore")
def explore(
    *,
    source: str,
    annotations: list[str] | None = None,
    report_dir: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    workers: int = 2,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    near_dup_distance: int = DEFAULT_NEAR_DUP_DISTANCE,
    tracking_uri: str | None = None,
    experiment: str = DEFAULT_EXPERIMENT,
) -> dict[str, Any]:
    """Discover, profile, flag and report; returns a summary with the report's URI.

    Args:
        source: image root: local path, file:// or s3://.
        annotations: annotation files or prefixes; their boxes add the label charts.
        report_dir: where the report goes (default ./reports/<run name>/; s3:// allowed).
        batch_size: images per profiling task (each batch is cached on its content).
        workers: decode threads per batch.
        max_pixels: larger images are quarantined as decompression bombs.
        near_dup_distance: max Hamming distance (of 64 bits) between near-duplicate pHashes.
        tracking_uri: MLflow tracking URI or SageMaker tracking-server ARN.
        experiment: MLflow experiment.
    """
    check_parameters(batch_size, workers, max_pixels, near_dup_distance)
    settings = Settings()
    store = make_store(settings)
    run_name = flow_run.get_name() or "explore"
    report_dir = report_dir or join(settings.report_root, run_name)

    images, problems = discover_task(source, store)
    profiled = profile_and_flag(
        images,
        store,
        batch_size=batch_size,
        max_pixels=max_pixels,
        workers=workers,
        near_dup_distance=near_dup_distance,
    )
    images, problems = profiled.images, problems + profiled.problems
    boxes = None
    if annotations:
        labels = AnnotationSet.merge(read_annotations_task(uri, store) for uri in annotations)
        boxes, _, found = resolve_boxes_task(labels, images, source_uri=source)
        problems += found

    rendered = render_report_task(images, boxes, problems, store, source_uri=source)
    files = save_report_task(rendered, report_dir, store)
    target = tracking.choose_tracking_target(tracking_uri, workdir=Path(settings.workdir))
    with tracking.start_run(target, experiment=experiment, run_name=run_name, stage="explore"):
        record_profile(
            {"source": source, "annotations": annotations or []}, images, boxes, files.local_dir
        )
    create_markdown_artifact(
        key="explore-report",
        markdown=files.markdown
        + f"\nBatches profiled: {profiled.batches - profiled.batches_cached}, "
        f"cached: {profiled.batches_cached}\n",
        description=f"Data-quality report for {source}",
    )
    return {
        "source": source,
        **files.counts,
        "boxes": 0 if boxes is None else len(boxes),
        "batches": profiled.batches,
        "batches_cached": profiled.batches_cached,
        "report_uri": files.html_uri,
        "images_csv_uri": files.csv_uri,
        "report_local_dir": str(files.local_dir),
        "tracking_uri": target.uri,
    }


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = flow_parser("explore", __doc__)
    parser.add_argument("--source", required=True, help="image root: path, file:// or s3://")
    parser.add_argument(
        "--annotations",
        action="append",
        default=[],
        metavar="URI",
        help="annotation file or prefix (repeatable): adds the label charts",
    )
    parser.add_argument("--report-dir", help="default ./reports/<run name>/ (s3:// allowed)")
    parser.add_argument("--tracking-uri", help="MLflow tracking URI or SageMaker server ARN")
    parser.add_argument("--experiment", default=DEFAULT_EXPERIMENT)
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument("--workers", type=int, default=2, help="decode threads per batch")
    parser.add_argument(
        "--max-pixels",
        type=int,
        default=DEFAULT_MAX_PIXELS,
        help="larger images are quarantined as decompression bombs",
    )
    parser.add_argument(
        "--near-dup-distance",
        type=int,
        default=DEFAULT_NEAR_DUP_DISTANCE,
        help="max Hamming distance (of 64 bits) between near-duplicate pHashes",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    quiet_environment()
    args = _parse_args(argv)
    try:
        check_parameters(args.batch_size, args.workers, args.max_pixels, args.near_dup_distance)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_CONFIG
    summary = explore(
        source=args.source,
        annotations=args.annotations,
        report_dir=args.report_dir,
        batch_size=args.batch_size,
        workers=args.workers,
        max_pixels=args.max_pixels,
        near_dup_distance=args.near_dup_distance,
        tracking_uri=args.tracking_uri,
        experiment=args.experiment,
    )
    print(
        f"{summary['images']} images, {summary['quarantined']} quarantined, "
        f"{summary['flagged']} flagged; {summary['batches_cached']} of {summary['batches']} "
        "batches were unchanged and came from the cache"
    )
    print(summary["report_uri"])
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
