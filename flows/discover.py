"""List the datasets under a root: complete ones newest first, incomplete ones apart.

    python -m flows.discover [--root s3://BUCKET/datasets/] [--all] [--json]

A dataset is complete when its dataset_info.json exists (publish writes it last). Cost
at N datasets on S3: one LIST per 1,000 dataset prefixes, then one ranged GET per
prefix (16 in parallel) of dataset_info.json's head: its summary fields (name,
created_at, names, splits) come before the per-image and per-file lists, so a 64 KiB
read usually holds them however large the dataset is; the read grows when it does not.
An incomplete prefix costs one GET answered 404.
"""

from __future__ import annotations

import json
import logging
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NONE

from flows.cli import flow_parser
from tasks.layout import DATASET_INFO
from tasks.storage import Store, basename, join, normalize_uri

log = logging.getLogger(__name__)

HEAD_BYTES = 64 * 1024
_GROWTH = 8
_WORKERS = 16
SUMMARY_FIELDS = ("name", "created_at", "names", "splits")
_MISSING_CODES = ("404", "NoSuchKey", "NotFound")


@dataclass(frozen=True)
class DatasetSummary:
    """One dataset under the root, from the head of its dataset_info.json."""

    name: str
    uri: str
    complete: bool
    created_at: str | None = None
    classes: list[str] = field(default_factory=list)
    images: dict[str, int] = field(default_factory=dict)  # split -> images
    instances: dict[str, int] = field(default_factory=dict)  # split -> boxes
    error: str | None = None  # dataset_info.json exists but could not be read

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def leading_fields(text: str, wanted: tuple[str, ...]) -> dict[str, Any] | None:
    """Top-level fields of a JSON object, read in order until ``wanted`` are all found.

    Returns None when ``text`` ends before that (read more); raises ``ValueError`` when
    it is not a JSON object.
    """
    decoder = json.JSONDecoder()
    found: dict[str, Any] = {}
    index = len(text) - len(text.lstrip())
    if not text[index:].startswith("{"):
        raise ValueError("dataset_info.json is not a JSON object")
    index += 1
    try:
        while True:
            index = _skip(text, index, ",")
            if text[index] == "}":
                return found
            key, index = decoder.raw_decode(text, index)
            index = _skip(text, index, ":")
            found[key], index = decoder.raw_decode(text, _skip(text, index, ""))
            if all(name in found for name in wanted):
                return found
    except (json.JSONDecodeError, IndexError):
        return None


def _skip(text: str, index: int, separator: str) -> int:
    """Skip whitespace and at most one ``separator``."""
    while text[index].isspace():
        index += 1
    if separator and text[index] == separator:
        index += 1
        while text[index].isspace():
            index += 1
    return index


def _read_head(store: Store, uri: str) -> tuple[dict[str, Any] | None, str | None]:
    """The leading fields of dataset_info.json; ``(None, None)`` when it does not exist."""
    from botocore.exceptions import ClientError

    length = HEAD_BYTES
    while True:
        try:
            head = store.read_range(uri, 0, length)
        except FileNotFoundError:
            return None, None
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            if code in _MISSING_CODES:
                return None, None
            return {}, f"cannot read {DATASET_INFO}: {code}"
        text = head.decode("utf-8", errors="replace")
        try:
            fields = leading_fields(text, SUMMARY_FIELDS)
        except ValueError as error:
            return {}, str(error)
        if fields is not None:
            return fields, None
        if len(head) < length:
            return {}, f"{DATASET_INFO} is not valid JSON"
        length *= _GROWTH


def _summary(uri: str, fields: dict[str, Any], error: str | None) -> DatasetSummary:
    splits = fields.get("splits") if isinstance(fields.get("splits"), dict) else {}
    names = fields.get("names") if isinstance(fields.get("names"), list) else []

    def count(key: str) -> dict[str, int]:
        return {s: int(v.get(key, 0)) for s, v in splits.items() if isinstance(v, dict)}

    return DatasetSummary(
        name=str(fields.get("name") or basename(uri)),
        uri=uri,
        complete=True,
        created_at=str(fields["created_at"]) if fields.get("created_at") else None,
        classes=[str(n) for n in names],
        images=count("images"),
        instances=count("instances"),
        error=error,
    )


def read_summary(dataset_uri: str, store: Store) -> DatasetSummary:
    """Summary of one dataset prefix; ``complete`` is False without dataset_info.json."""
    fields, error = _read_head(store, join(dataset_uri, DATASET_INFO))
    if fields is None:
        return DatasetSummary(name=basename(dataset_uri), uri=dataset_uri, complete=False)
    return _summary(dataset_uri, fields, error)


def list_datasets(
    root_uri: str, store: Store, *, include_incomplete: bool = False
) -> list[DatasetSummary]:
    """Complete datasets under ``root_uri``, newest first; then, if asked, incomplete ones."""
    prefixes = store.list_prefixes(normalize_uri(root_uri))
    with ThreadPoolExecutor(_WORKERS) as pool:
        summaries = list(pool.map(lambda uri: read_summary(uri, store), prefixes))
    complete = [s for s in summaries if s.complete]
    complete.sort(key=lambda s: s.name)
    complete.sort(key=lambda s: s.created_at or "", reverse=True)
    log.info("%s: %d datasets, %d complete", root_uri, len(summaries), len(complete))
    if not include_incomplete:
        return complete
    return complete + sorted((s for s in summaries if not s.complete), key=lambda s: s.name)


list_datasets_task = task(
    name="list-datasets", retries=2, retry_delay_seconds=[2, 10], cache_policy=NONE
)(list_datasets)


@flow(name="discover-datasets")
def discover_datasets(
    root_uri: str = "./datasets", include_incomplete: bool = False
) -> list[dict[str, Any]]:
    """The datasets under ``root_uri`` as dicts (see :class:`DatasetSummary`)."""
    found = list_datasets_task(root_uri, Store(), include_incomplete=include_incomplete)
    return [summary.as_dict() for summary in found]


def _table(summaries: list[dict[str, Any]]) -> list[str]:
    lines = []
    for s in summaries:
        images = " ".join(f"{k}={v}" for k, v in s["images"].items())
        boxes = sum(s["instances"].values())
        note = f"  ERROR {s['error']}" if s["error"] else ""
        lines.append(
            f"{s['created_at'] or '-':<27} {s['name']:<52} {images:<22} "
            f"boxes={boxes:<8} classes={','.join(s['classes'])}{note}"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = flow_parser("discover", __doc__)
    parser.add_argument("--root", default="./datasets", help="where datasets are published")
    parser.add_argument("--all", action="store_true", help="also list incomplete prefixes")
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    args = parser.parse_args(argv)
    # the plain function: a local Prefect run would first start a temporary server
    try:
        summaries = list_datasets(args.root, Store(), include_incomplete=args.all)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    found = [summary.as_dict() for summary in summaries]
    complete = [s for s in found if s["complete"]]
    incomplete = [s for s in found if not s["complete"]]
    if args.json:
        doc: dict[str, Any] = {"root": args.root, "datasets": complete}
        if args.all:
            doc["incomplete"] = incomplete
        print(json.dumps(doc, indent=2))
        return 0
    print(f"{len(complete)} complete dataset(s) under {args.root}, newest first:")
    for line in _table(complete):
        print(line)
    if args.all:
        print(f"{len(incomplete)} incomplete prefix(es) (no {DATASET_INFO}):")
        for summary in incomplete:
            print(f"  {summary['uri']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
