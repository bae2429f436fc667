"""Plan and publish a dataset: images, labels, data.yaml, report, dataset_info.json last.

A dataset becomes visible to ``discover`` only when ``dataset_info.json`` exists, and it
is written after every other object, so an interrupted publish leaves nothing that looks
complete. A rerun of the same publish completes it (and removes objects a previous
attempt left that the new plan does not have).
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pandas as pd
from prefect import task
from prefect.cache_policies import NONE

from tasks.layout import (
    DATA_YAML,
    DATASET_INFO,
    PlannedImage,
    data_yaml_text,
    dataset_info_text,
    format_label_line,
)
from tasks.orientation import upright_image
from tasks.publish_lock import publish_lock
from tasks.retrying import io_task
from tasks.storage import Store, join
from tasks.tables import STATUS_OK

log = logging.getLogger(__name__)

_UNSAFE_CHARS = re.compile(r"[^A-Za-z0-9._-]+")
_EXTENSIONS = {"JPEG": ".jpg", "PNG": ".png"}
_COPY_WORKERS = 8


class DatasetExistsError(RuntimeError):
    """A complete dataset already has this name and ``overwrite`` was not given."""


@dataclass(frozen=True)
class PublishedFile:
    path: str  # relative to the dataset root
    bytes: int
    sha256: str


def _safe_stem(key: str) -> str:
    stem = key.rsplit(".", 1)[0].replace("/", "__")
    return _UNSAFE_CHARS.sub("_", stem).strip("._") or "image"


def dataset_file_names(keys: list[str], formats: list[str]) -> list[str]:
    """Unique, safe file names for source keys, stable for a given key.

    Folders become ``__``; characters outside ``[A-Za-z0-9._-]`` become ``_``. Names
    that would still collide (case-insensitively, or on the stem alone, since labels
    are named by stem) all get a short hash of their key appended.
    """
    stems = [_safe_stem(key) for key in keys]
    counts = Counter(stem.lower() for stem in stems)
    names = []
    for key, stem, fmt in zip(keys, stems, formats, strict=True):
        unique = stem
        if counts[stem.lower()] > 1:
            unique = f"{stem}-{hashlib.sha1(key.encode()).hexdigest()[:8]}"
        names.append(unique + _EXTENSIONS.get(fmt, ".jpg"))
    return names


def label_text(boxes: pd.DataFrame) -> str:
    """One image's label file: sorted lines, empty for a background image."""
    if boxes.empty:
        return ""
    ordered = boxes.sort_values(["class_id", "x_center", "y_center", "width", "height"])
    lines = [
        format_label_line(row.class_id, row.x_center, row.y_center, row.width, row.height)
        for row in ordered.itertuples(index=False)
    ]
    return "\n".join(lines) + "\n"


def plan_dataset(images: pd.DataFrame, boxes: pd.DataFrame) -> list[PlannedImage]:
    """The images with status ``ok`` and a split, each with its label text."""
    chosen = images[(images["status"] == STATUS_OK) & images["split"].notna()]
    chosen = chosen.sort_values("key", kind="stable")
    names = dataset_file_names(chosen["key"].tolist(), chosen["format"].tolist())
    by_image = dict(tuple(boxes.groupby("image_key", sort=False))) if not boxes.empty else {}
    plan = []
    for row, file_name in zip(chosen.itertuples(index=False), names, strict=True):
        plan.append(
            PlannedImage(
                split=row.split,
                file_name=file_name,
                source_key=row.key,
                source_uri=row.uri,
                width=int(row.width),
                height=int(row.height),
                format=row.format,
                orientation=int(row.orientation),
                sha256=getattr(row, "sha256", None),
                label_text=label_text(by_image.get(row.key, boxes.iloc[0:0])),
                source_bytes=int(row.bytes),
            )
        )
    return plan


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _publish_image(item: PlannedImage, dataset_uri: str, store: Store) -> PublishedFile:
    """Copy the source (server-side on S3) or, for EXIF-rotated sources, write it upright."""
    dest = join(dataset_uri, item.image_path)
    if item.orientation != 1:
        data, _ = upright_image(store.read_bytes(item.source_uri))
        store.write_bytes(dest, data)
        return PublishedFile(item.image_path, len(data), _sha256(data))
    store.copy(item.source_uri, dest)
    if item.sha256 is None or item.source_bytes is None:
        data = store.read_bytes(dest)
        return PublishedFile(item.image_path, len(data), _sha256(data))
    return PublishedFile(item.image_path, item.source_bytes, item.sha256)


def check_not_published(dataset_uri: str, store: Store, *, overwrite: bool) -> None:
    """Fail before any work when a complete dataset already has this name."""
    if not overwrite and store.exists(join(dataset_uri, DATASET_INFO)):
        raise DatasetExistsError(
            f"{dataset_uri} is already a complete dataset; pass --overwrite to replace it"
        )


def _write_text(dataset_uri: str, path: str, text: str, store: Store) -> PublishedFile:
    data = text.encode("utf-8")
    store.write_bytes(join(dataset_uri, path), data)
    return PublishedFile(path, len(data), _sha256(data))


def files_digest(files: list[PublishedFile]) -> str:
    """sha256 over ``path<TAB>bytes<TAB>sha256`` lines of the sorted file list."""
    lines = "".join(
        f"{f.path}\t{f.bytes}\t{f.sha256}\n" for f in sorted(files, key=lambda f: f.path)
    )
    return _sha256(lines.encode("utf-8"))


def _remove_stale(dataset_uri: str, keep: set[str], store: Store) -> int:
    """Delete objects under the dataset that this publish did not write (a prior attempt's)."""
    stale = [obj for obj in store.list(dataset_uri) if obj.key not in keep]
    for obj in stale:
        store.delete(obj.uri)
    return len(stale)


def _write_files(
    plan: list[PlannedImage],
    names: list[str],
    dataset_uri: str,
    store: Store,
    *,
    extra_files: dict[str, bytes],
    progress: Callable[[int, int], None] | None,
) -> list[PublishedFile]:
    """Images (in parallel), labels, data.yaml and extra files; sorted by path."""
    files: list[PublishedFile] = []
    with ThreadPoolExecutor(_COPY_WORKERS) as pool:
        futures = [pool.submit(_publish_image, item, dataset_uri, store) for item in plan]
        for done, future in enumerate(futures, start=1):
            files.append(future.result())
            if progress is not None:
                progress(done, len(futures))
    files += [_write_text(dataset_uri, item.label_path, item.label_text, store) for item in plan]
    splits = sorted({item.split for item in plan}, key=["train", "val", "test"].index)
    files.append(_write_text(dataset_uri, DATA_YAML, data_yaml_text(names, splits), store))
    for path, data in sorted(extra_files.items()):
        store.write_bytes(join(dataset_uri, path), data)
        files.append(PublishedFile(path, len(data), _sha256(data)))
    return sorted(files, key=lambda f: f.path)


def publish_dataset(
    plan: list[PlannedImage],
    names: list[str],
    *,
    dataset_uri: str,
    store: Store,
    info: dict[str, object],
    extra_files: dict[str, bytes] | None = None,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, object]:
    """Write the dataset under ``dataset_uri``; ``dataset_info.json`` last. Returns the info.

    ``extra_files`` (e.g. ``report.html``) are written beside ``data.yaml``. Fails with
    :class:`DatasetExistsError` if a complete dataset is there and not ``overwrite``, and
    with ``DatasetLockedError`` while another run publishes the same name.
    """
    info_uri = join(dataset_uri, DATASET_INFO)
    with publish_lock(dataset_uri, store):
        check_not_published(dataset_uri, store, overwrite=overwrite)
        store.delete(info_uri)  # from here on the dataset is incomplete until rewritten
        files = _write_files(
            plan, names, dataset_uri, store, extra_files=extra_files or {}, progress=progress
        )
        removed = _remove_stale(dataset_uri, {f.path for f in files}, store)
        if removed:
            log.info("removed %d objects a previous attempt left under %s", removed, dataset_uri)
        full_info = {
            **info,
            "files": [{"path": f.path, "bytes": f.bytes, "sha256": f.sha256} for f in files],
            "files_digest": files_digest(files),
        }
        store.write_text(info_uri, dataset_info_text(full_info), content_type="application/json")
    return full_info


plan_task = task(name="plan-dataset", cache_policy=NONE)(plan_dataset)
publish_task = io_task(publish_dataset, name="publish-dataset", retries=2)
