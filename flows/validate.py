"""Validate a published dataset with the same suites as the publish gate.

    python -m flows.validate s3://BUCKET/datasets/NAME/ [--min-train 100] [--min-val 50]
        [--min-image-side 32] [--imgsz 640] [--deep] [--docs DIR]

Exit status 0 when the dataset is valid, 1 when it is not (each failure printed as one
line), 2 for bad arguments (including a URI with no dataset under it).

On S3 the check reads the listing, data.yaml, dataset_info.json and the labels in full, and
of each image only a ranged head and tail: its size is checked against the file list and
its header and end marker for format, size and truncation. ``--deep`` also reads every
image body (sha256 against the file list, full decode). Local datasets always get the
image sha256 check, since reading local files costs little.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NONE
from prefect.states import Failed

from flows.cli import flow_parser
from tasks.storage import Store

EXIT_VALID, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


def read_frames(dataset_uri: str, store: Store, *, deep: bool, imgsz: int) -> Any:
    """The suites' frames for a published dataset (see ``expectations.frames``)."""
    from expectations import frames_from_dataset

    return frames_from_dataset(dataset_uri, store, deep=deep, imgsz=imgsz)


def check_frames(frames: Any, limits: dict[str, Any], docs_dir: str | None) -> Any:
    """Run every suite; write the GX Data Docs when ``docs_dir`` is given."""
    from expectations import validate_frames, write_data_docs

    report = validate_frames(frames, **limits)
    if docs_dir:
        report.statistics["data_docs"] = str(write_data_docs(report, docs_dir))
    return report


def _retry_unless_missing(task: Any, task_run: Any, state: Any) -> bool:
    """Retry I/O errors, not a dataset that is not there."""
    try:
        state.result()
    except FileNotFoundError:
        return False
    except Exception:  # any other failure of a read is worth a retry
        return True
    return False


read_frames_task = task(
    name="read-dataset",
    retries=2,
    retry_delay_seconds=[2, 10],
    retry_condition_fn=_retry_unless_missing,
    cache_policy=NONE,
)(read_frames)
check_frames_task = task(name="check-dataset", cache_policy=NONE)(check_frames)


def validate_uri(
    dataset_uri: str,
    store: Store,
    *,
    deep: bool = False,
    docs_dir: str | None = None,
    **limits: Any,
) -> Any:
    """Read and check a published dataset; the ``ValidationReport`` (no Prefect needed)."""
    frames = read_frames(dataset_uri, store, deep=deep, imgsz=limits.get("imgsz", 640))
    return check_frames(frames, limits, docs_dir)


def _summary(dataset_uri: str, report: Any) -> dict[str, Any]:
    return {"uri": dataset_uri, **report.as_dict()}


@flow(name="validate-dataset", log_prints=True)
def validate_dataset(
    dataset_uri: str,
    *,
    min_train: int = 100,
    min_val: int = 50,
    min_image_side: int = 32,
    imgsz: int = 640,
    deep: bool = False,
    docs_dir: str | None = None,
) -> Any:
    """Validate the dataset at ``dataset_uri``: its summary, or a Failed state holding it."""
    frames = read_frames_task(dataset_uri, Store(), deep=deep, imgsz=imgsz)
    limits = {
        "min_train": min_train,
        "min_val": min_val,
        "min_image_side": min_image_side,
        "imgsz": imgsz,
    }
    report = check_frames_task(frames, limits, docs_dir)
    summary = _summary(dataset_uri, report)
    if report.success:
        return summary
    failed = "; ".join(report.failures)
    return Failed(message=f"{dataset_uri} is invalid: {failed}", data=summary)


def _parser() -> argparse.ArgumentParser:
    parser = flow_parser("validate", __doc__)
    parser.add_argument("dataset_uri", help="local path, file:// or s3:// URI of a dataset")
    parser.add_argument("--min-train", type=int, default=100)
    parser.add_argument("--min-val", type=int, default=50)
    parser.add_argument("--min-image-side", type=int, default=32)
    parser.add_argument("--imgsz", type=int, default=640, help="training image size")
    parser.add_argument(
        "--deep", action="store_true", help="read every image body: sha256 and a full decode"
    )
    parser.add_argument("--docs", dest="docs_dir", help="write GX Data Docs HTML here")
    return parser


def main(argv: list[str] | None = None) -> int:
    """The command line runs the plain functions: a local Prefect run would first start a
    temporary server (10-40 s); deployments run :func:`validate_dataset`."""
    args = _parser().parse_args(argv)
    if min(args.min_train, args.min_val, args.min_image_side, args.imgsz) < 0:
        print("error: minimums and --imgsz must not be negative", file=sys.stderr)
        return EXIT_USAGE
    limits = {
        "min_train": args.min_train,
        "min_val": args.min_val,
        "min_image_side": args.min_image_side,
        "imgsz": args.imgsz,
    }
    try:
        report = validate_uri(
            args.dataset_uri, Store(), deep=args.deep, docs_dir=args.docs_dir, **limits
        )
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    if not report.success:
        print(f"INVALID {args.dataset_uri}: {len(report.failures)} rule(s) failed")
        for line in report.failures:
            print(line)
    for line in report.warnings:
        print(f"warning: {line}")
    if report.success:
        splits = report.statistics["splits"]
        counts = ", ".join(f"{name} {split['images']} images" for name, split in splits.items())
        print(f"VALID {args.dataset_uri}: {counts}")
    if "data_docs" in report.statistics:
        print(f"Data Docs: {report.statistics['data_docs']}")
    return EXIT_VALID if report.success else EXIT_INVALID


if __name__ == "__main__":
    sys.exit(main())
