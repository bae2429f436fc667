"""Typed flow parameters: the Prefect UI form, the CLI and deployments share them.

A bad value fails validation here, before any image is read or any object written.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from tasks.annotations.groundtruth import parse_verification
from tasks.layout import check_dataset_name
from tasks.settings import DEFAULT_EXPERIMENT
from tasks.storage import normalize_uri

GROUP_BY_RE = re.compile(r"^(folder|none|regex:.+|time:\d+(\.\d+)?)$")


def default_dataset_name() -> str:
    return datetime.now(UTC).strftime("yolov11_dataset_%Y%m%d_%H%M%S")


def _check_uri(uri: str) -> str:
    normalize_uri(uri)  # raises for an unsupported scheme
    return uri


class PrepareParams(BaseModel):
    """What ``prepare`` needs; every field has a default so the embedded demo runs as is."""

    model_config = {"extra": "forbid"}

    source: str | None = Field(
        None, description="Image root: local path, file:// or s3://. Empty: the generated demo."
    )
    annotations: list[str] = Field(
        default_factory=list,
        description="Annotation files or prefixes (Ground Truth, COCO, VOC, YOLO, VisDrone, DOTA).",
    )
    dest: str | None = Field(None, description="Where datasets go (default ./datasets).")
    name: str | None = Field(
        None, description="Dataset name: a-z, 0-9, _ and -, at most 50 characters."
    )
    classes: list[str] | None = Field(
        None, description="Class order (ids 0..n-1); default: sorted names found."
    )
    class_map: dict[str, str] = Field(
        default_factory=dict, description="Rename or merge classes, e.g. {'van': 'car'}."
    )
    drop_unknown_classes: bool = Field(False, description="Drop boxes of classes not in classes.")
    label_attribute: str | None = Field(
        None, description="Ground Truth label attribute (default: newest by creation-date)."
    )
    min_confidence: float | None = Field(
        None, ge=0, le=1, description="Drop auto-labeled boxes below this confidence."
    )
    verification: str = Field(
        "keep",
        description="Ground Truth verification verdicts: keep, drop (bad, incorrect, ...) "
        "or drop:VERDICT,... (images so judged are left unlabeled).",
    )
    val_fraction: Annotated[float, Field(gt=0, lt=1)] = 0.2
    test_fraction: Annotated[float, Field(ge=0, lt=1)] = 0.0
    seed: int = 42
    group_by: str = Field(
        "folder", description="folder, none, regex:PATTERN or time:MINUTES (split groups)."
    )
    freeze_from: str | None = Field(
        None, description="dataset_info.json (or dataset URI) whose split assignment is kept."
    )
    min_train: Annotated[int, Field(ge=0)] = 100
    min_val: Annotated[int, Field(ge=0)] = 50
    unlabeled_as_background: bool = Field(
        False, description="Publish images no annotation covers, with empty label files."
    )
    tile: Annotated[int, Field(ge=64)] | None = Field(
        None, description="Cut frames larger than this into tiles of this size."
    )
    tile_overlap: Annotated[float, Field(ge=0, lt=1)] = 0.2
    tile_min_area: Annotated[float, Field(gt=0, le=1)] = 0.1
    report_dir: str | None = Field(None, description="Report folder (default ./reports/<name>).")
    tracking_uri: str | None = Field(
        None, description="MLflow tracking URI or SageMaker tracking-server ARN."
    )
    experiment: str = DEFAULT_EXPERIMENT
    overwrite: bool = Field(False, description="Replace a complete dataset of the same name.")
    task_runner: Literal["threads", "dask"] = "threads"
    dask_address: str | None = Field(None, description="Scheduler of a running Dask cluster.")

    @field_validator(
        "source",
        "dest",
        "name",
        "report_dir",
        "freeze_from",
        "tracking_uri",
        "label_attribute",
        "dask_address",
        mode="before",
    )
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        """Deployments template unset variables as "": that means "not given"."""
        return None if value == "" else value

    @field_validator("annotations", mode="before")
    @classmethod
    def _drop_empty(cls, value: object) -> object:
        return [v for v in value if v != ""] if isinstance(value, list) else value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        return None if value is None else check_dataset_name(value)

    @field_validator("source", "dest", "report_dir", "freeze_from")
    @classmethod
    def _uri(cls, value: str | None) -> str | None:
        return None if value is None else _check_uri(value)

    @field_validator("annotations")
    @classmethod
    def _uris(cls, value: list[str]) -> list[str]:
        return [_check_uri(v) for v in value]

    @field_validator("classes")
    @classmethod
    def _classes(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        names = [v.strip() for v in value]
        if not names or any(not n for n in names) or len(set(names)) != len(names):
            raise ValueError(f"classes must be non-empty and unique, got {value}")
        return names

    @field_validator("verification")
    @classmethod
    def _verification(cls, value: str) -> str:
        parse_verification(value)
        return value

    @field_validator("group_by")
    @classmethod
    def _group_by(cls, value: str) -> str:
        if not GROUP_BY_RE.match(value):
            raise ValueError(
                f"group_by must be folder, none, regex:PATTERN or time:MINUTES, got {value!r}"
            )
        if value.startswith("regex:"):
            re.compile(value[len("regex:") :])
        return value

    @model_validator(mode="after")
    def _fractions(self) -> PrepareParams:
        if self.val_fraction + self.test_fraction >= 1:
            raise ValueError("val_fraction + test_fraction must leave images for train")
        if self.annotations and self.source is None:
            raise ValueError("annotations need a source: give --source as well")
        return self
