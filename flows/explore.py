"""``python -m flows.explore --source URI``: what is in this bucket, and what is wrong with it.

Discover the images, profile every one of them (batched, mapped, cached per content),
flag them against the dataset's own distribution, and write the data-quality report.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from prefect import flow, get_run_logger, unmapped
from prefect.artifacts import create_markdown_artifact
from prefect.runtime import flow_run

from tasks.discover import discover_task
from tasks.profile import (
    DEFAULT_MAX_PIXELS,
    DEFAULT_NEAR_DUP_DISTANCE,
    check_profile_params,
    combine_batches,
    flag_task,
    profile_task,
    quarantine_problems,
    split_batches,
)
from tasks.report import report_task
from tasks.storage import Store, join

DEFAULT_BATCH_SIZE = 300


def default_report_dir(run_name: str) -> str:
    """``./reports/<run name>/``."""
    return join("reports", run_name)


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
    endpoint_url: str | None = None,
) -> dict[str, Any]:
    """Discover, profile, flag and report; returns a summary with the report's URI."""
    logger = get_run_logger()
    check_parameters(batch_size, workers, max_pixels, near_dup_distance)
    store = Store(endpoint_url=endpoint_url)
    report_dir = report_dir or default_report_dir(flow_run.get_name() or "explore")
    if annotations:
        logger.warning("annotation reading is not wired into explore yet: ignoring %s", annotations)

    images, problems = discover_task(source, store)
    batches = split_batches(images, batch_size)
    futures = profile_task.map(
        batches, store=unmapped(store), max_pixels=max_pixels, workers=workers
    )
    futures.wait()
    cached = sum(future.state.name == "Cached" for future in futures)
    logger.info(
        "profiled %d batches: %d re-profiled, %d from cache (unchanged content)",
        len(futures),
        len(futures) - cached,
        cached,
    )
    flagged = flag_task(combine_batches(futures.result()), near_dup_distance=near_dup_distance)
    problems = problems + quarantine_problems(flagged)

    files = report_task(flagged, None, problems, report_dir, store, source_uri=source)
    create_markdown_artifact(
        key="explore-report",
        markdown=files.markdown
        + f"\nBatches profiled: {len(futures) - cached}, cached: {cached}\n",
        description=f"Data-quality report for {source}",
    )
    return {
        "source": source,
        **files.counts,
        "batches": len(futures),
        "batches_cached": cached,
        "annotations_ignored": list(annotations or []),
        "report_uri": files.html_uri,
        "images_csv_uri": files.csv_uri,
        "report_local_dir": str(files.local_dir),
    }


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m flows.explore", description=__doc__)
    parser.add_argument("--source", required=True, help="image root: path, file:// or s3://")
    parser.add_argument(
        "--annotations",
        action="append",
        default=[],
        metavar="URI",
        help="annotation file or prefix (repeatable; not read yet)",
    )
    parser.add_argument("--report-dir", help="default ./reports/<run name>/ (s3:// allowed)")
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
    args = _parse_args(argv)
    try:
        check_parameters(args.batch_size, args.workers, args.max_pixels, args.near_dup_distance)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    summary = explore(
        source=args.source,
        annotations=args.annotations,
        report_dir=args.report_dir,
        batch_size=args.batch_size,
        workers=args.workers,
        max_pixels=args.max_pixels,
        near_dup_distance=args.near_dup_distance,
    )
    print(
        f"{summary['images']} images, {summary['quarantined']} quarantined, "
        f"{summary['flagged']} flagged; {summary['batches_cached']} of {summary['batches']} "
        "batches were unchanged and came from the cache"
    )
    print(summary["report_uri"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
