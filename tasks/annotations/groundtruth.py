"""SageMaker Ground Truth output manifests (JSON lines), bounding-box jobs and their kin.

One line per image: ``source-ref`` plus one or more *label attributes* named by the jobs
that labeled it (a chained job adds its own). A bounding-box attribute holds
``annotations[{class_id, left, top, width, height}]`` and ``image_size``; its
``<attr>-metadata`` holds ``class-map``, ``human-annotated``, ``objects[{confidence}]``,
``creation-date``, ``type`` and, for failed items, ``failure-reason``. Adjustment jobs
write the same shape (with ``adjustment-status``). Verification jobs write
``<attr>: {class_id}`` with ``type: groundtruth/label-verification`` and a ``class-name``
verdict for the whole image.

Rules: the attribute is ``label_attribute`` when given, else per line the bounding-box
attribute with the newest ``creation-date``. ``min_confidence`` drops auto-labeled objects
(``human-annotated: no``) below it. ``verification="keep"`` ignores verdicts;
``"drop"`` (rejecting verdicts ``bad``, ``incorrect``, ``rejected``, ``reject``, ``wrong``)
or ``"drop:<name>,<name>"`` takes the image's boxes out and leaves it uncovered
(unlabeled), because publishing it as a background image would teach "no objects here".
"""

from __future__ import annotations

import logging
from typing import Any

from tasks.annotations.model import (
    AnnotationSet,
    BadJsonError,
    SetBuilder,
    as_number,
    decode_lines,
    load_json,
)

log = logging.getLogger(__name__)

FORMAT = "groundtruth"
BOX_TYPE = "groundtruth/object-detection"
VERIFICATION_TYPE = "groundtruth/label-verification"
DEFAULT_REJECTING = frozenset({"bad", "incorrect", "rejected", "reject", "wrong"})
_META = "-metadata"


def parse_verification(verification: str) -> frozenset[str] | None:
    """``"keep"`` -> None; ``"drop"`` -> default rejecting verdicts; ``"drop:a,b"`` -> {a, b}."""
    mode, _, names = verification.partition(":")
    if mode == "keep" and not names:
        return None
    if mode == "drop":
        chosen = {n.strip().lower() for n in names.split(",") if n.strip()}
        return frozenset(chosen) if chosen else DEFAULT_REJECTING
    raise ValueError(
        f"verification must be 'keep', 'drop' or 'drop:<verdict>,...', got {verification!r}"
    )


def _attributes(line: dict[str, Any], wanted_type: str) -> list[str]:
    """Label attributes of a type, newest ``creation-date`` first (then by name)."""
    found = []
    for key, meta in line.items():
        if not key.endswith(_META) or not isinstance(meta, dict):
            continue
        attr = key[: -len(_META)]
        value = line.get(attr)
        is_boxes = isinstance(value, dict) and "annotations" in value
        kind = meta.get("type") or (BOX_TYPE if is_boxes else None)
        if kind == wanted_type:
            found.append((str(meta.get("creation-date", "")), attr))
    return [attr for _, attr in sorted(found, key=lambda t: (t[0], t[1]), reverse=True)]


def _failure(line: dict[str, Any], attr: str) -> str | None:
    meta = line.get(attr + _META)
    reason = meta.get("failure-reason") if isinstance(meta, dict) else None
    return reason or line.get("failure-reason")


def _any_failure(line: dict[str, Any]) -> str | None:
    reasons = [
        m.get("failure-reason")
        for k, m in line.items()
        if k.endswith(_META) and isinstance(m, dict)
    ]
    return next((r for r in reasons if r), None) or line.get("failure-reason")


def _image_size(value: dict[str, Any]) -> tuple[float | None, float | None] | str:
    """``(width, height)``, ``(None, None)`` when absent, or an error message."""
    sizes = value.get("image_size")
    if sizes is None:
        return None, None
    size = sizes[0] if isinstance(sizes, list) and sizes else sizes
    if not isinstance(size, dict):
        return f"image_size must be a list of {{width, height}}, got {sizes!r}"
    width, height = as_number(size.get("width")), as_number(size.get("height"))
    if width is None or height is None or width <= 0 or height <= 0:
        return f"image_size needs positive width and height, got {size!r}"
    return width, height


def _rejected(line: dict[str, Any], rejecting: frozenset[str] | None) -> str | None:
    """The rejecting verdict of the newest verification attribute, if any."""
    if rejecting is None:
        return None
    for attr in _attributes(line, VERIFICATION_TYPE)[:1]:
        verdict = str(line[attr + _META].get("class-name", "")).strip()
        if verdict.lower() in rejecting:
            return f"{attr}={verdict}"
    return None


def _add_objects(
    b: SetBuilder,
    *,
    line_no: int,
    ref: str,
    value: dict[str, Any],
    meta: dict[str, Any],
    size: tuple[float | None, float | None],
    min_confidence: float | None,
) -> None:
    class_map = meta.get("class-map") if isinstance(meta.get("class-map"), dict) else {}
    objects = meta.get("objects") if isinstance(meta.get("objects"), list) else []
    human = {"yes": True, "no": False}.get(str(meta.get("human-annotated", "")).lower())
    for i, ann in enumerate(value["annotations"]):
        place = f":{line_no}#annotations[{i}]"
        if not isinstance(ann, dict):
            b.lost(place, ref, "gt-bad-annotation", f"annotation must be an object, got {ann!r}")
            continue
        missing = [k for k in ("class_id", "left", "top", "width", "height") if k not in ann]
        if missing:
            b.lost(place, ref, "gt-missing-key", f"annotation lacks {', '.join(missing)}")
            continue
        name = class_map.get(str(ann["class_id"]))
        if name is None:
            b.lost(
                place,
                ref,
                "gt-class-id-unmapped",
                f"class_id {ann['class_id']!r} is not in the class-map {class_map}",
            )
            continue
        obj = objects[i] if i < len(objects) and isinstance(objects[i], dict) else {}
        confidence = as_number(obj.get("confidence"))
        if human is False and min_confidence is not None and (confidence or 0.0) < min_confidence:
            b.problem(
                place,
                "gt-low-confidence",
                f"auto-labeled object has confidence {confidence}, below {min_confidence}",
                kind="box",
            )
            continue
        left, top = as_number(ann["left"]), as_number(ann["top"])
        width, height = as_number(ann["width"]), as_number(ann["height"])
        xyxy = (left, top, None, None)
        if None not in (left, top, width, height):
            xyxy = (left, top, left + width, top + height)  # type: ignore[operator]
        b.box(ref, place, name, xyxy, ref_size=size, confidence=confidence, human_annotated=human)


def _read_line(
    b: SetBuilder,
    *,
    line_no: int,
    line: dict[str, Any],
    label_attribute: str | None,
    min_confidence: float | None,
    rejecting: frozenset[str] | None,
) -> None:
    ref = line.get("source-ref")
    if not isinstance(ref, str) or not ref:
        b.problem(line_no, "gt-missing-source-ref", "line has no 'source-ref' string")
        return
    candidates = [label_attribute] if label_attribute else _attributes(line, BOX_TYPE)
    if not candidates or (candidates[0] not in line and candidates[0] + _META not in line):
        if reason := _any_failure(line):
            b.problem(line_no, "gt-failure-reason", f"{ref}: labeling failed: {reason}")
            return
        wanted = (
            f"label attribute {label_attribute!r}"
            if label_attribute
            else "bounding-box label attribute"
        )
        b.problem(
            line_no, "gt-no-label-attribute", f"{ref}: line has no {wanted} (keys: {sorted(line)})"
        )
        return
    attr = candidates[0]
    if reason := _failure(line, attr):
        b.problem(line_no, "gt-failure-reason", f"{ref}: labeling failed for {attr!r}: {reason}")
        return
    value, meta = line.get(attr), line.get(attr + _META)
    if (
        not isinstance(value, dict)
        or not isinstance(value.get("annotations"), list)
        or not isinstance(meta, dict)
    ):
        b.problem(
            line_no,
            "gt-missing-annotations",
            f"{ref}: {attr!r} needs 'annotations' (a list) and '{attr}{_META}'",
        )
        return
    size = _image_size(value)
    if isinstance(size, str):
        b.problem(line_no, "gt-bad-image-size", f"{ref}: {size}")
        return
    if verdict := _rejected(line, rejecting):
        count = len(value["annotations"])
        b.problem(
            line_no,
            "gt-verification-rejected",
            f"{ref}: verification {verdict} rejected its {count} boxes; image left unlabeled",
            kind="box",
        )
        return
    b.cover(ref, line_no, *size)
    _add_objects(
        b,
        line_no=line_no,
        ref=ref,
        value=value,
        meta=meta,
        size=size,
        min_confidence=min_confidence,
    )


def read_groundtruth(
    data: bytes,
    uri: str,
    *,
    label_attribute: str | None = None,
    min_confidence: float | None = None,
    verification: str = "keep",
) -> AnnotationSet:
    """Boxes of one output manifest; each bad line or object is a problem, the rest kept."""
    rejecting = parse_verification(verification)
    b = SetBuilder(FORMAT, uri)
    for line_no, text in decode_lines(data, b):
        if not text.strip():
            continue
        try:
            line = load_json(text)
        except BadJsonError as error:
            b.problem(line_no, "gt-bad-json", f"line is not JSON: {error.message}")
            continue
        if not isinstance(line, dict):
            b.problem(
                line_no, "gt-bad-json", f"line must be a JSON object, got {type(line).__name__}"
            )
            continue
        _read_line(
            b,
            line_no=line_no,
            line=line,
            label_attribute=label_attribute,
            min_confidence=min_confidence,
            rejecting=rejecting,
        )
    log.info("%s: %d boxes on %d images", uri, len(b.rows), len(b.covered_rows))
    return b.build()
