"""YOLO detection txt (one file per image) with its class names.

Each line is re-validated with :func:`tasks.layout.parse_label_line` (the one YOLO line
format); a class id outside the names is a problem. Names come from ``names=[...]``, else
a ``data.yaml``, ``classes.txt`` or ``*.names`` file beside the labels.
"""

from __future__ import annotations

from tasks.annotations.model import AnnotationSet, SetBuilder, decode_lines
from tasks.layout import LabelLineError, names_list, parse_label_line, read_data_yaml

FORMAT = "yolo"
NAMES_FILES = ("data.yaml", "data.yml", "classes.txt", "obj.names")


def is_names_file(file_name: str) -> bool:
    lower = file_name.lower()
    return lower in NAMES_FILES or lower.endswith(".names")


def parse_names(file_name: str, text: str) -> list[str]:
    """Class names from a data.yaml (``names``) or a one-name-per-line file."""
    if file_name.lower().endswith((".yaml", ".yml")):
        return names_list(read_data_yaml(text))
    return [line.strip() for line in text.splitlines() if line.strip()]


def read_yolo(data: bytes, uri: str, *, image_ref: str, names: list[str]) -> AnnotationSet:
    """Normalized boxes of one YOLO label file for the image named ``image_ref`` (its
    key without suffix)."""
    b = SetBuilder(FORMAT, uri)
    b.cover(image_ref, None)
    for line_no, text in decode_lines(data, b, image_ref):
        if not text.strip():
            continue
        try:
            class_id, x_center, y_center, width, height = parse_label_line(text, b.where(line_no))
        except LabelLineError as error:
            b.lost(
                line_no,
                image_ref,
                "yolo-bad-line",
                str(error).removeprefix(b.where(line_no) + ": "),
            )
            continue
        if class_id >= len(names):
            b.lost(
                line_no,
                image_ref,
                "yolo-class-id-unknown",
                f"class id {class_id} has no name (names: {names})",
            )
            continue
        xyxy = (
            x_center - width / 2,
            y_center - height / 2,
            x_center + width / 2,
            y_center + height / 2,
        )
        b.box(image_ref, line_no, names[class_id], xyxy, units="norm")
    return b.build()
