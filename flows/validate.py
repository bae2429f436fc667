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
) -> dict[str, Any]:
    """Validate the dataset at ``dataset_uri``; raise ``DatasetInvalid`` when it is not."""
    from expectations import require_valid

    frames = read_frames_task(dataset_uri, Store(), deep=deep, imgsz=imgsz)
    limits = {
        "min_train": min_train,
        "min_val": min_val,
        "min_image_side": min_image_side,
        "imgsz": imgsz,
    }
    report = check_frames_task(frames, limits, docs_dir)
    require_valid(report)
    return {"uri": dataset_uri, **report.as_dict()}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m flows.validate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
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
    args = _parser().parse_args(argv)
    if min(args.min_train, args.min_val, args.min_image_side, args.imgsz) < 0:
        print("error: minimums and --imgsz must not be negative", file=sys.stderr)
        return EXIT_USAGE
    from expectations import DatasetInvalid

    try:
        summary = validate_dataset(**vars(args))
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except DatasetInvalid as invalid:
        report = invalid.report
        print(f"INVALID {args.dataset_uri}: {len(report.failures)} rule(s) failed")
        for line in report.failures:
            print(line)
        for line in report.warnings:
            print(f"warning: {line}")
        return EXIT_INVALID
    splits = summary["statistics"]["splits"]
    counts = ", ".join(f"{name} {split['images']} images" for name, split in splits.items())
    for line in summary["warnings"]:
        print(f"warning: {line}")
    print(f"VALID {args.dataset_uri}: {counts}")
    return EXIT_VALID


if __name__ == "__main__":
    sys.exit(main())
