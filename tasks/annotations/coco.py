"""COCO detection json: ``images``, ``annotations`` with ``bbox = [x, y, w, h]`` floats in
pixels, ``categories`` with ids that need not be 0..n-1.

Rules: ``area`` is ignored (exporters fill it with anything, e.g. the image area);
``iscrowd: 1`` annotations are crowd regions, not instances, and are dropped as problems
(the rule Ultralytics' converter follows); every listed image is covered, so a listed image
without annotations is a background image, and a listed image that is not on disk is
reported when boxes are resolved.
"""

from __future__ import annotations

import logging
from typing import Any

from tasks.annotations.model import (
    AnnotationSet,
    BadJsonError,
    SetBuilder,
    as_number,
    decode_text,
    load_json,
)

log = logging.getLogger(__name__)

FORMAT = "coco"


def _id(value: object) -> int | str | None:
    """A COCO id: an integer or a string (JSON gives no other hashable ids)."""
    return value if isinstance(value, int | str) and not isinstance(value, bool) else None


def _list(b: SetBuilder, doc: dict[str, Any], name: str) -> list[Any]:
    value = doc.get(name)
    if value is None or isinstance(value, list):
        return value or []
    b.problem(name, "coco-bad-json", f"'{name}' must be a list, got {type(value).__name__}")
    return []


def _categories(b: SetBuilder, doc: dict[str, Any]) -> dict[object, str]:
    names: dict[object, str] = {}
    for i, cat in enumerate(_list(b, doc, "categories")):
        if (
            not isinstance(cat, dict)
            or _id(cat.get("id")) is None
            or not isinstance(cat.get("name"), str)
        ):
            b.problem(
                f"categories[{i}]",
                "coco-bad-category",
                f"category needs 'id' and a 'name' string, got {cat!r}",
            )
        elif cat["id"] in names:
            b.problem(
                f"categories[{i}]",
                "coco-duplicate-category",
                f"category id {cat['id']!r} listed twice; the first ({names[cat['id']]!r}) is kept",
            )
        else:
            names[cat["id"]] = cat["name"]
    return names


def _images(b: SetBuilder, doc: dict[str, Any]) -> dict[object, tuple[str, float, float]]:
    images: dict[object, tuple[str, float, float]] = {}
    for i, img in enumerate(_list(b, doc, "images")):
        place = f"images[{i}]"
        if (
            not isinstance(img, dict)
            or _id(img.get("id")) is None
            or not isinstance(img.get("file_name"), str)
        ):
            b.problem(
                place, "coco-bad-image", f"image needs 'id' and a 'file_name' string, got {img!r}"
            )
            continue
        width, height = as_number(img.get("width")), as_number(img.get("height"))
        if width is None or height is None or width <= 0 or height <= 0:
            b.problem(
                place,
                "coco-bad-image-size",
                f"{img['file_name']}: width and height must be positive numbers, "
                f"got {img.get('width')!r} x {img.get('height')!r}",
            )
            continue
        if img["id"] in images:
            b.problem(
                place,
                "coco-duplicate-image",
                f"image id {img['id']!r} listed twice; the first is kept",
            )
            continue
        images[img["id"]] = (img["file_name"], width, height)
        b.cover(img["file_name"], place, width, height)
    return images


def _add_annotation(
    b: SetBuilder,
    i: int,
    ann: object,
    images: dict[object, tuple[str, float, float]],
    names: dict[object, str],
) -> None:
    if not isinstance(ann, dict):
        b.problem(
            f"annotations[{i}]", "coco-bad-annotation", f"annotation must be an object, got {ann!r}"
        )
        return
    place = f"annotations[{i}]" + (f"(id={ann['id']})" if "id" in ann else "")
    image = images.get(_id(ann.get("image_id")))
    if image is None:
        b.problem(
            place,
            "coco-unknown-image",
            f"image_id {ann.get('image_id')!r} is not among the listed images",
        )
        return
    file_name, width, height = image
    category = _id(ann.get("category_id"))
    if category not in names:
        b.lost(
            place,
            file_name,
            "coco-unknown-category",
            f"{file_name}: category_id {ann.get('category_id')!r} is not in categories",
        )
        return
    if ann.get("iscrowd") in (1, True):
        b.problem(
            place,
            "coco-iscrowd",
            f"{file_name}: crowd region (iscrowd=1) is not an instance; dropped",
            kind="box",
        )
        return
    bbox = ann.get("bbox")
    if not isinstance(bbox, list) or len(bbox) != 4:
        b.lost(
            place,
            file_name,
            "coco-bad-bbox",
            f"{file_name}: bbox must be [x, y, w, h], got {bbox!r}",
        )
        return
    x, y, w, h = (as_number(v) for v in bbox)
    xyxy = (x, y, None, None) if None in (x, y, w, h) else (x, y, x + w, y + h)  # type: ignore[operator]
    b.box(file_name, place, names[category], xyxy, ref_size=(width, height))


def read_coco(data: bytes, uri: str) -> AnnotationSet:
    """Boxes of one COCO json; each bad element is a problem naming its index."""
    b = SetBuilder(FORMAT, uri)
    text = decode_text(data, b)
    if text is None:
        return b.build()
    try:
        doc = load_json(text)
    except BadJsonError as error:
        b.problem(error.line_no, "coco-bad-json", f"file is not JSON: {error.message}")
        return b.build()
    if (
        not isinstance(doc, dict)
        or not isinstance(doc.get("images"), list)
        or not isinstance(doc.get("annotations"), list)
    ):
        b.problem(None, "coco-bad-json", "COCO json needs 'images' and 'annotations' lists")
        return b.build()
    names = _categories(b, doc)
    images = _images(b, doc)
    for i, ann in enumerate(_list(b, doc, "annotations")):
        _add_annotation(b, i, ann, images, names)
    log.info("%s: %d boxes on %d images", uri, len(b.rows), len(images))
    return b.build()
