"""A small valid dataset written straight in the published layout, for the suites' tests.

``write_dataset`` writes images, labels and data.yaml; ``finish_dataset`` then writes
dataset_info.json with the file list and digest, last, as publish does. Tests break one
rule between the two (or after, for integrity) so the only failure is the one they test.
"""

from __future__ import annotations

import hashlib
from typing import Any

from expectations.frames import files_digest
from tasks.layout import (
    DATA_YAML,
    DATASET_INFO,
    data_yaml_text,
    dataset_info_text,
    format_label_line,
    image_relpath,
    label_relpath,
)
from tasks.storage import Store, join
from tests.conftest import make_image_bytes

NAMES = ["car", "person"]


def label_text(index: int) -> str:
    """Two boxes of both classes, or none (a background image) for every fifth image."""
    if index % 5 == 4:
        return ""
    lines = [
        format_label_line(index % 2, 0.5, 0.5, 0.4, 0.3),
        format_label_line((index + 1) % 2, 0.25, 0.3, 0.2, 0.2),
    ]
    return "\n".join(lines) + "\n"


def write_dataset(
    store: Store,
    root: str,
    *,
    n_train: int = 6,
    n_val: int = 3,
    names: list[str] | None = None,
    size_px: tuple[int, int] = (64, 48),
    split_dirs: tuple[str, str] = ("train", "val"),
) -> dict[str, str]:
    """Write images, labels and data.yaml; return {relpath: label text} of the labels."""
    names = names or NAMES
    labels: dict[str, str] = {}
    index = 0
    for split, count in zip(split_dirs, (n_train, n_val), strict=True):
        for _ in range(count):
            stem = f"img_{index:04d}"
            store.write_bytes(
                join(root, image_relpath(split, f"{stem}.jpg")),
                make_image_bytes(*size_px, "JPEG", seed=index),
            )
            text = label_text(index)
            store.write_text(join(root, label_relpath(split, stem)), text)
            labels[label_relpath(split, stem)] = text
            index += 1
    yaml_text = data_yaml_text(names, ["train", "val"])
    if split_dirs[1] != "val":
        yaml_text = yaml_text.replace("val: val/images", f"val: {split_dirs[1]}/images")
    store.write_text(join(root, DATA_YAML), yaml_text)
    return labels


def finish_dataset(store: Store, root: str, **info_fields: Any) -> dict[str, Any]:
    """Write dataset_info.json (file list with sizes and sha256, digest) last, like publish."""
    files = []
    for obj in store.list(root):
        if obj.key == DATASET_INFO:
            continue
        body = store.read_bytes(obj.uri)
        files.append(
            {"path": obj.key, "bytes": len(body), "sha256": hashlib.sha256(body).hexdigest()}
        )
    files.sort(key=lambda f: f["path"])
    info = {
        "schema_version": 1,
        "name": root.rstrip("/").rsplit("/", 1)[-1],
        "created_at": "2026-11-28T03:00:00Z",
        "parameters": {"seed": 42, "val_fraction": 0.2, "classes": NAMES},
        "names": NAMES,
        "images": [],
        "files": files,
        "files_digest": files_digest(files),
    }
    info.update(info_fields)
    store.write_text(join(root, DATASET_INFO), dataset_info_text(info))
    return info


def failed_rules(report: Any) -> list[str]:
    """The rule names of a report's failures (each sentence starts ``rule: ...``)."""
    return [failure.split(":", 1)[0] for failure in report.failures]


def warned_rules(report: Any) -> list[str]:
    return [warning.split(":", 1)[0] for warning in report.warnings]
