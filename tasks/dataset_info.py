"""The content of ``dataset_info.json`` (its file list is added by ``publish``)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import pandas as pd

from tasks.layout import SCHEMA_VERSION, SPLITS, PlannedImage
from tasks.tables import STATUS_QUARANTINED, STATUS_UNLABELED, Problem


def droneprep_version() -> str:
    try:
        return version("droneprep")
    except PackageNotFoundError:  # running from a checkout that was not installed
        return "0+unknown"


def _class_counts(label_texts: list[str], names: list[str]) -> Counter[str]:
    counts: Counter[str] = Counter({name: 0 for name in names})
    for text in label_texts:
        for line in text.splitlines():
            counts[names[int(line.split(maxsplit=1)[0])]] += 1
    return counts


def split_statistics(plan: list[PlannedImage], names: list[str]) -> dict[str, dict[str, Any]]:
    """Per split: images, instances, background images and instances per class."""
    stats: dict[str, dict[str, Any]] = {}
    for split in SPLITS:
        items = [item for item in plan if item.split == split]
        if not items and split == "test":
            continue
        counts = _class_counts([item.label_text for item in items], names)
        stats[split] = {
            "images": len(items),
            "instances": sum(counts.values()),
            "background_images": sum(1 for item in items if not item.label_text),
            "class_instances": dict(counts),
        }
    return stats


def build_dataset_info(
    *,
    name: str,
    source_uri: str,
    annotation_uris: list[str],
    parameters: dict[str, Any],
    names: list[str],
    plan: list[PlannedImage],
    images: pd.DataFrame,
    problems: list[Problem],
    expectations: dict[str, Any],
    mlflow_run_id: str | None,
    tracking_uri: str | None,
) -> dict[str, Any]:
    """Everything a consumer needs to know about the dataset, except its file list."""
    splits = split_statistics(plan, names)
    totals: Counter[str] = Counter()
    for split in splits.values():
        totals.update(split["class_instances"])
    quarantined = images[images["status"] == STATUS_QUARANTINED]
    extra_cols = [c for c in ("group", "tile_of_key", "tile_x", "tile_y") if c in images.columns]
    by_key = images.set_index("key")[extra_cols] if extra_cols else None
    return {
        "schema_version": SCHEMA_VERSION,
        "name": name,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "droneprep_version": droneprep_version(),
        "source_uri": source_uri,
        "annotation_uris": annotation_uris,
        "parameters": parameters,
        "names": names,
        "splits": splits,
        "class_instances": {name_: totals[name_] for name_ in names},
        "images": [_image_entry(item, by_key) for item in plan],
        "quarantined": [
            {"key": row.key, "reason": row.reason} for row in quarantined.itertuples(index=False)
        ],
        "unlabeled": images.loc[images["status"] == STATUS_UNLABELED, "key"].tolist(),
        "problems": [p.as_dict() for p in problems],
        "expectations": expectations,
        "mlflow_run_id": mlflow_run_id,
        "tracking_uri": tracking_uri,
    }


def _image_entry(item: PlannedImage, by_key: pd.DataFrame | None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "file": item.image_path,
        "label": item.label_path,
        "split": item.split,
        "source_key": item.source_key,
        "width": item.width,
        "height": item.height,
        "group": None,
        "tile_of": None,
    }
    if by_key is not None:
        row = by_key.loc[item.source_key]
        if "group" in row and pd.notna(row["group"]):
            entry["group"] = str(row["group"])
        if "tile_of_key" in row and pd.notna(row["tile_of_key"]):
            entry["tile_of"] = {
                "source_key": row["tile_of_key"],
                "x": int(row["tile_x"]),
                "y": int(row["tile_y"]),
            }
    return entry
