"""The tables that travel between stages, and the record of what went wrong.

Two pandas DataFrames carry the data (see ARCHITECTURE.md):

* **images**: one row per source image. ``discover`` makes the first columns; each later
  stage returns a new frame with its own columns added.
* **boxes**: one row per object, normalized YOLO ``xywhn`` on the image as displayed.

Annotation readers produce **raw boxes** first (pixel or normalized corners, as the file
states them, plus the reference size the file claims); ``annotations.resolve`` matches
them to images and turns them into **boxes**.

Anything dropped or quarantined is a :class:`Problem`: where (file and line or element),
the rule, and a sentence a person can act on.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import pandas as pd

# status values of the images table
STATUS_OK = "ok"
STATUS_QUARANTINED = "quarantined"
STATUS_UNLABELED = "unlabeled"

# images: columns from discover
IMAGE_DISCOVER_COLUMNS = ["key", "uri", "bytes", "etag"]
# images: columns every later stage may rely on once profiling ran
IMAGE_PROFILE_COLUMNS = [
    "width",  # px, as displayed (after EXIF orientation)
    "height",
    "orientation",  # EXIF orientation tag, 1 when absent
    "format",  # Pillow format name: JPEG, PNG
    "mode",
    "status",
    "reason",
]
# images: columns the split stage adds
IMAGE_SPLIT_COLUMNS = ["group", "split"]

# raw boxes, as a reader found them
RAW_BOX_COLUMNS = [
    "image_ref",  # how the annotation names the image: key, file name or URI
    "class_name",
    "x_min",
    "y_min",
    "x_max",
    "y_max",
    "units",  # "px" (pixels on the reference size) or "norm" (0..1)
    "ref_width",  # size the annotation file states, NaN when it states none
    "ref_height",
    "source_format",  # groundtruth, coco, voc, yolo, visdrone, dota
    "source_uri",
    "source_line",  # line number or element path inside source_uri
    "confidence",
    "human_annotated",
]

# boxes, resolved to images and normalized
BOX_COLUMNS = [
    "image_key",
    "class_name",
    "class_id",
    "x_center",
    "y_center",
    "width",
    "height",
    "source_format",
    "source_uri",
    "source_line",
    "confidence",
    "human_annotated",
]


@dataclass(frozen=True)
class Problem:
    """One thing dropped, skipped or quarantined, with where it came from and why."""

    where: str  # "uri:line" or "uri#element"; the file alone when there is no finer place
    rule: str  # short machine-readable rule name, e.g. "yolo-field-count"
    message: str  # one sentence for a person
    image_key: str | None = None
    kind: str = "annotation"  # annotation | image | box | config

    def as_dict(self) -> dict[str, str | None]:
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.where}: {self.message} [{self.rule}]"


def empty_frame(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({column: pd.Series(dtype=object) for column in columns})


def problems_frame(problems: list[Problem]) -> pd.DataFrame:
    columns = ["where", "rule", "message", "image_key", "kind"]
    return pd.DataFrame([p.as_dict() for p in problems], columns=columns)
