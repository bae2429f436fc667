"""Pascal VOC xml, one file per image, parsed with defusedxml (no entity expansion, no
external entities, no network).

Coordinates: the VOC devkit numbers pixels from 1. By default every corner coordinate is
shifted by -1 into droneprep's 0-based continuous frame (``x_min = xmin - 1``,
``x_max = xmax - 1``: the Ultralytics VOC converter's rule, and the one the YOLO files
shipped beside real VOC exports follow; the CATS set agrees on all 461 boxes). Exporters
that write 0-based values: ``zero_based=True`` (no shift).

``<filename>`` names the image; when it matches no image the xml's own stem is tried and
the fallback reported (resolve does that: ``fallback_ref``). A ``<size>`` of 0 x 0 means
"not known" (some exporters write it): the boxes are taken on the image as displayed.
``difficult``, ``truncated`` and ``occluded`` are kept as provenance; difficult objects
are published.
"""

from __future__ import annotations

import logging
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as safe_et
from defusedxml import DefusedXmlException

from tasks.annotations.model import AnnotationSet, SetBuilder, as_number

log = logging.getLogger(__name__)

FORMAT = "voc"


def _number(node: Element | None, path: str) -> float | None:
    found = node.find(path) if node is not None else None
    return as_number(found.text.strip()) if found is not None and found.text else None


def _flag(node: Element, name: str) -> int | None:
    value = _number(node, name)
    return None if value is None else int(value)


def _parse(b: SetBuilder, data: bytes) -> Element | None:
    try:
        root = safe_et.fromstring(data)
    except DefusedXmlException as error:
        b.problem(
            None, "voc-unsafe-xml", f"xml refused as unsafe ({type(error).__name__}: {error})"
        )
        return None
    except ParseError as error:
        line, column = error.position
        b.problem(line, "voc-bad-xml", f"xml is not well-formed at column {column}: {error}")
        return None
    if root.tag != "annotation":
        b.problem(root.tag, "voc-bad-xml", f"root element must be <annotation>, got <{root.tag}>")
        return None
    return root


def read_voc(
    data: bytes, uri: str, *, fallback_ref: str, zero_based: bool = False
) -> AnnotationSet:
    """Boxes of one VOC xml. ``fallback_ref`` is the xml's key without suffix, tried
    when ``<filename>`` matches no image."""
    b = SetBuilder(FORMAT, uri)
    root = _parse(b, data)
    if root is None:
        return b.build()
    filename = (root.findtext("filename") or "").strip() or fallback_ref
    size = root.find("size")
    width, height = _number(size, "width"), _number(size, "height")
    if width == 0 and height == 0:  # some exporters write 0 x 0 for "not known"
        width = height = None
    elif size is not None and (width is None or height is None or width <= 0 or height <= 0):
        b.problem(
            "annotation/size",
            "voc-bad-size",
            f"{filename}: <size> needs positive width and height, got {width} x {height}",
        )
        return b.build()
    b.cover(filename, "annotation", width, height, fallback_ref=fallback_ref)
    shift = 0.0 if zero_based else 1.0
    for i, obj in enumerate(root.findall("object"), start=1):
        place = f"object[{i}]"
        box = obj.find("bndbox")
        if box is None:
            b.lost(place, filename, "voc-missing-bndbox", f"{filename}: object has no <bndbox>")
            continue
        corners = [_number(box, tag) for tag in ("xmin", "ymin", "xmax", "ymax")]
        xyxy = tuple(None if c is None else c - shift for c in corners)
        b.box(
            filename,
            place,
            (obj.findtext("name") or "").strip() or None,
            xyxy,  # type: ignore[arg-type]
            ref_size=(width, height),
            fallback_ref=fallback_ref,
            difficult=_flag(obj, "difficult"),
            truncated=_flag(obj, "truncated"),
            occlusion=_flag(obj, "occluded"),
        )
    return b.build()
