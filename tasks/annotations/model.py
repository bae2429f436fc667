"""The reader output: raw boxes, the images an annotation covers, and problems.

Every reader builds its result through a :class:`SetBuilder`, so the checks that hold for
every format (finite numbers, corners in order, a class name) live in one place and a bad
box becomes a :class:`~tasks.tables.Problem` naming the file and line or element.
"""

from __future__ import annotations

import json
import math
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from tasks.tables import RAW_BOX_COLUMNS, Problem, empty_frame

# provenance a reader may know besides the shared raw-box columns; NaN/None when it does not
PROVENANCE_COLUMNS = ["difficult", "truncated", "occlusion"]
# a second way to name the image, tried when ``image_ref`` matches nothing (VOC: the xml's
# own stem when its <filename> is stale); matching by it is reported
FALLBACK_COLUMN = "fallback_ref"
RAW_COLUMNS = [*RAW_BOX_COLUMNS, *PROVENANCE_COLUMNS, FALLBACK_COLUMN]
COVERED_COLUMNS = ["image_ref", "ref_width", "ref_height", "source_uri", "source_line"]
COVERED_ALL_COLUMNS = [*COVERED_COLUMNS, FALLBACK_COLUMN, "source_format"]
# images with an object that could not be read: their labels would miss it
INCOMPLETE_COLUMNS = ["source_uri", "image_ref", "source_line", "rule"]


@dataclass
class AnnotationSet:
    """What one or more annotation sources say.

    ``raw_boxes``: one row per object (``RAW_COLUMNS``). ``covered``: one row per image an
    annotation speaks about, objects or not (an image with zero objects is a background
    image). ``problems``: everything skipped, with where and why. ``incomplete``: one row
    per object that could not be read, naming its image: publishing that image's other
    boxes would label the lost object as background (``resolve_boxes`` decides).
    """

    raw_boxes: pd.DataFrame = field(default_factory=lambda: empty_frame(RAW_COLUMNS))
    covered: pd.DataFrame = field(default_factory=lambda: empty_frame(COVERED_ALL_COLUMNS))
    problems: list[Problem] = field(default_factory=list)
    incomplete: pd.DataFrame = field(default_factory=lambda: empty_frame(INCOMPLETE_COLUMNS))

    @classmethod
    def merge(cls, sets: Iterable[AnnotationSet]) -> AnnotationSet:
        """One set holding every box, covered image and problem of ``sets``, in order."""
        sets = list(sets)
        if not sets:
            return cls()
        boxes = [s.raw_boxes for s in sets if len(s.raw_boxes)]
        covered = [s.covered for s in sets if len(s.covered)]
        incomplete = [s.incomplete for s in sets if len(s.incomplete)]
        return cls(
            raw_boxes=pd.concat(boxes, ignore_index=True) if boxes else empty_frame(RAW_COLUMNS),
            covered=(
                pd.concat(covered, ignore_index=True)
                if covered
                else empty_frame(COVERED_ALL_COLUMNS)
            ),
            problems=[p for s in sets for p in s.problems],
            incomplete=(
                pd.concat(incomplete, ignore_index=True)
                if incomplete
                else empty_frame(INCOMPLETE_COLUMNS)
            ),
        )

    def __add__(self, other: AnnotationSet) -> AnnotationSet:
        return AnnotationSet.merge([self, other])


def _finite(*values: float) -> bool:
    return all(isinstance(v, int | float) and math.isfinite(v) for v in values)


def _unsafe_chars(name: str) -> str | None:
    """What makes a class name unsafe (path separators, control or format characters)."""
    if "/" in name or "\\" in name:
        return "a path separator"
    bad = sorted({ch for ch in name.strip() if unicodedata.category(ch).startswith("C")})
    return f"control characters {bad}" if bad else None


def as_number(value: object) -> float | None:
    """A JSON/XML/text value as a float, or None when it is not a finite number."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):  # OverflowError: a JSON int like 1e400
        return None
    return number if math.isfinite(number) else None


class BadJsonError(ValueError):
    """Text that is not JSON droneprep can read; ``line_no`` is 1-based."""

    def __init__(self, line_no: int, message: str) -> None:
        super().__init__(message)
        self.line_no = line_no
        self.message = message


def load_json(text: str) -> Any:
    """``json.loads`` with every way hostile text makes it fail raised as BadJsonError:
    malformed JSON, nesting deeper than the interpreter's recursion limit (``[[[[...``
    a hundred thousand deep) and integers over Python's 4300-digit conversion limit."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise BadJsonError(error.lineno, f"{error.msg} at column {error.colno}") from None
    except RecursionError:
        raise BadJsonError(1, "nested too deeply to parse") from None
    except ValueError as error:  # int digits limit
        raise BadJsonError(1, str(error)) from None


@dataclass
class SetBuilder:
    """Collects one format's boxes, covered images and problems for one source file."""

    source_format: str
    source_uri: str
    rows: list[dict[str, object]] = field(default_factory=list)
    covered_rows: list[dict[str, object]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    incomplete_rows: list[dict[str, str]] = field(default_factory=list)

    def where(self, place: str | int | None = None) -> str:
        """``uri:12`` for a line, ``uri#object[3]`` for an element, ``uri:12#annotations[0]``
        when a place string starts with ``:``."""
        if place is None:
            return self.source_uri
        if isinstance(place, int):
            return f"{self.source_uri}:{place}"
        return (
            f"{self.source_uri}{place}" if place.startswith(":") else f"{self.source_uri}#{place}"
        )

    def problem(self, place: str | int | None, rule: str, message: str, **kw: str) -> None:
        self.problems.append(Problem(self.where(place), rule, message, **kw))

    def lost(self, place: str | int | None, image_ref: str, rule: str, message: str) -> None:
        """A problem with an object of ``image_ref``: the image's labels are incomplete."""
        self.problem(place, rule, message)
        self.incomplete_rows.append(
            {
                "source_uri": self.source_uri,
                "image_ref": image_ref,
                "source_line": self.where(place),
                "rule": rule,
            }
        )

    def cover(
        self,
        image_ref: str,
        place: str | int | None,
        ref_width: float | None = None,
        ref_height: float | None = None,
        fallback_ref: str | None = None,
    ) -> None:
        self.covered_rows.append(
            {
                "image_ref": image_ref,
                "ref_width": math.nan if ref_width is None else float(ref_width),
                "ref_height": math.nan if ref_height is None else float(ref_height),
                "source_uri": self.source_uri,
                "source_line": self.where(place),
                FALLBACK_COLUMN: fallback_ref,
                "source_format": self.source_format,
            }
        )

    def box(
        self,
        image_ref: str,
        place: str | int,
        class_name: object,
        xyxy: tuple[float | None, float | None, float | None, float | None],
        *,
        units: str = "px",
        ref_size: tuple[float | None, float | None] = (None, None),
        confidence: float | None = None,
        human_annotated: bool | None = None,
        fallback_ref: str | None = None,
        **provenance: object,
    ) -> bool:
        """Add one box given as corners; a bad one becomes a problem. True when added."""
        x_min, y_min, x_max, y_max = xyxy
        if not isinstance(class_name, str) or not class_name.strip():
            self.lost(
                place,
                image_ref,
                "box-class-missing",
                f"object has no class name, got {class_name!r}",
            )
            return False
        if unsafe := _unsafe_chars(class_name):
            self.lost(
                place,
                image_ref,
                "box-class-unsafe",
                f"class name {class_name!r} holds {unsafe}: names become data.yaml entries, "
                "report text and MLflow params",
            )
            return False
        if (
            x_min is None
            or y_min is None
            or x_max is None
            or y_max is None
            or not _finite(x_min, y_min, x_max, y_max)
        ):
            self.lost(
                place,
                image_ref,
                "box-not-finite",
                f"box coordinates must be finite numbers, got {xyxy}",
            )
            return False
        if x_max < x_min or y_max < y_min:
            self.lost(
                place,
                image_ref,
                "box-negative-size",
                f"box has negative width or height: x {x_min}..{x_max}, y {y_min}..{y_max}",
            )
            return False
        ref_width, ref_height = ref_size
        self.rows.append(
            {
                "image_ref": image_ref,
                "class_name": class_name.strip(),
                "x_min": float(x_min),
                "y_min": float(y_min),
                "x_max": float(x_max),
                "y_max": float(y_max),
                "units": units,
                "ref_width": math.nan if ref_width is None else float(ref_width),
                "ref_height": math.nan if ref_height is None else float(ref_height),
                "source_format": self.source_format,
                "source_uri": self.source_uri,
                "source_line": self.where(place),
                "confidence": confidence,
                "human_annotated": human_annotated,
                **{name: provenance.get(name) for name in PROVENANCE_COLUMNS},
                FALLBACK_COLUMN: fallback_ref,
            }
        )
        return True

    def build(self) -> AnnotationSet:
        raw = (
            pd.DataFrame(self.rows, columns=RAW_COLUMNS) if self.rows else empty_frame(RAW_COLUMNS)
        )
        covered = (
            pd.DataFrame(self.covered_rows, columns=COVERED_ALL_COLUMNS)
            if self.covered_rows
            else empty_frame(COVERED_ALL_COLUMNS)
        )
        incomplete = (
            pd.DataFrame(self.incomplete_rows, columns=INCOMPLETE_COLUMNS)
            if self.incomplete_rows
            else empty_frame(INCOMPLETE_COLUMNS)
        )
        return AnnotationSet(raw, covered, list(self.problems), incomplete)


def decode_lines(
    data: bytes, builder: SetBuilder, image_ref: str | None = None
) -> list[tuple[int, str]]:
    """``(line_no, text)`` of every line that is valid UTF-8 (a BOM is dropped); each
    undecodable line becomes a problem, the others are kept. In a one-image file
    (``image_ref``) a lost line makes that image's labels incomplete."""
    lines: list[tuple[int, str]] = []
    data = data.removeprefix(b"\xef\xbb\xbf")
    for line_no, raw in enumerate(data.split(b"\n"), start=1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            message = f"line is not valid UTF-8 ({error.reason} at byte {error.start})"
            if image_ref is None:
                builder.problem(line_no, "not-utf8", message)
            else:
                builder.lost(line_no, image_ref, "not-utf8", message)
            continue
        lines.append((line_no, text.rstrip("\r")))
    return lines


def decode_text(data: bytes, builder: SetBuilder) -> str | None:
    """The whole file as UTF-8, or None (and a problem naming the line) when it is not."""
    try:
        return data.removeprefix(b"\xef\xbb\xbf").decode("utf-8")
    except UnicodeDecodeError as error:
        line_no = data[: error.start].count(b"\n") + 1
        builder.problem(
            line_no, "not-utf8", f"file is not valid UTF-8 ({error.reason} at byte {error.start})"
        )
        return None
