"""The published dataset's layout and file formats: one owner for each format.

Producer (``publish``) and consumer (``expectations``, ``flows.validate``,
``flows.discover``) both use these functions, so a dataset is written and read one way.

    <dataset>/train/images/<file>      <dataset>/train/labels/<stem>.txt
    <dataset>/val/images/<file>        <dataset>/val/labels/<stem>.txt
    <dataset>/data.yaml                <dataset>/dataset_info.json   (written last)
    <dataset>/report.html
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

import yaml

SCHEMA_VERSION = 1
DATA_YAML = "data.yaml"
DATASET_INFO = "dataset_info.json"
REPORT_HTML = "report.html"
SPLITS = ("train", "val", "test")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
DATASET_NAME_RE = re.compile(r"^[a-z0-9_-]{1,50}$")
LABEL_DECIMALS = 6


class LabelLineError(ValueError):
    """A YOLO label line that breaks a rule; the message names the file and line."""


def check_dataset_name(name: str) -> str:
    if not DATASET_NAME_RE.match(name):
        raise ValueError(
            f"dataset name {name!r} must be 1-50 characters of lowercase letters, digits, "
            "'_' and '-'"
        )
    return name


def image_relpath(split: str, file_name: str) -> str:
    return f"{split}/images/{file_name}"


def label_relpath(split: str, stem: str) -> str:
    return f"{split}/labels/{stem}.txt"


def format_label_line(
    class_id: int, x_center: float, y_center: float, width: float, height: float
) -> str:
    """``class x_center y_center width height``, normalized, 6 decimals."""
    values = " ".join(f"{v:.{LABEL_DECIMALS}f}" for v in (x_center, y_center, width, height))
    return f"{int(class_id)} {values}"


def parse_label_line(line: str, where: str) -> tuple[int, float, float, float, float]:
    """Parse one YOLO detection line; ``where`` is ``file:line`` for the error message."""
    parts = line.split()
    if len(parts) != 5:
        raise LabelLineError(f"{where}: YOLO line needs 5 fields, got {len(parts)}")
    try:
        class_value = float(parts[0])
        coords = [float(p) for p in parts[1:]]
    except ValueError as error:
        raise LabelLineError(f"{where}: YOLO line has a non-numeric field ({error})") from None
    if not class_value.is_integer() or class_value < 0:
        raise LabelLineError(f"{where}: class id must be a non-negative integer, got {parts[0]}")
    if any(math.isnan(c) or math.isinf(c) for c in coords):
        raise LabelLineError(f"{where}: coordinates must be finite, got {' '.join(parts[1:])}")
    x_center, y_center, width, height = coords
    return int(class_value), x_center, y_center, width, height


def data_yaml_text(names: list[str], splits: list[str]) -> str:
    """``data.yaml`` for Ultralytics. No ``path`` key: it resolves to the yaml's folder."""
    doc: dict[str, Any] = {split: f"{split}/images" for split in splits}
    doc["nc"] = len(names)
    doc["names"] = dict(enumerate(names))
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)


def read_data_yaml(text: str) -> dict[str, Any]:
    doc = yaml.safe_load(text)
    if not isinstance(doc, dict):
        raise ValueError(f"data.yaml must be a mapping, got {type(doc).__name__}")
    return doc


def names_list(data_yaml: dict[str, Any]) -> list[str]:
    """``names`` as a list, from either the mapping (id -> name) or the list form."""
    names = data_yaml.get("names")
    if isinstance(names, list):
        return [str(n) for n in names]
    if isinstance(names, dict):
        ids = sorted(int(k) for k in names)
        if ids != list(range(len(ids))):
            raise ValueError(f"data.yaml names ids must be 0..{len(ids) - 1}, got {ids}")
        return [str(names[k] if k in names else names[str(k)]) for k in ids]
    raise ValueError("data.yaml has no 'names' list or mapping")


def dataset_info_text(info: dict[str, Any]) -> str:
    return json.dumps(info, indent=2, sort_keys=False, default=str, allow_nan=False) + "\n"


@dataclass(frozen=True)
class PlannedImage:
    """One image of the dataset to publish: where it comes from and what goes with it."""

    split: str
    file_name: str  # unique, safe file name inside <split>/images/
    source_key: str
    source_uri: str
    width: int  # px as published (upright)
    height: int
    format: str  # JPEG or PNG
    orientation: int  # EXIF orientation of the source; not 1 means pixels get transposed
    sha256: str | None  # of the source bytes; the published bytes when orientation is 1
    label_text: str  # the whole label file, "" for a background image
    source_bytes: int | None = None  # size of the source; the published size when orientation is 1

    @property
    def stem(self) -> str:
        return self.file_name.rsplit(".", 1)[0]

    @property
    def image_path(self) -> str:
        return image_relpath(self.split, self.file_name)

    @property
    def label_path(self) -> str:
        return label_relpath(self.split, self.stem)
