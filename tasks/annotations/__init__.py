"""Annotations in every common format -> one boxes table of exact, normalized YOLO boxes.

``read_annotations`` (detect + read) -> ``resolve_boxes`` (match to images, normalize,
clip, drop, dedupe) -> ``assign_class_ids`` (class order, map, unknown classes).
"""

from tasks.annotations.classes import (
    UnknownClassesError,
    assign_class_ids,
    assign_class_ids_task,
    check_classes,
    parse_class_map,
)
from tasks.annotations.detect import FORMATS, detect_format
from tasks.annotations.model import AnnotationSet
from tasks.annotations.read import read_annotations, read_annotations_task
from tasks.annotations.resolve import (
    DEFAULT_OVERSHOOT_TOLERANCE_PX,
    RESOLVED_COLUMNS,
    resolve_boxes,
    resolve_boxes_task,
    stored_to_displayed_xyxy,
)
from tasks.annotations.visdrone import VISDRONE_NAMES

__all__ = [
    "DEFAULT_OVERSHOOT_TOLERANCE_PX",
    "FORMATS",
    "RESOLVED_COLUMNS",
    "VISDRONE_NAMES",
    "AnnotationSet",
    "UnknownClassesError",
    "assign_class_ids",
    "assign_class_ids_task",
    "check_classes",
    "detect_format",
    "parse_class_map",
    "read_annotations",
    "read_annotations_task",
    "resolve_boxes",
    "resolve_boxes_task",
    "stored_to_displayed_xyxy",
]
