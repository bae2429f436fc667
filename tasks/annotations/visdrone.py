"""VisDrone2019-DET annotation txt: one file per image, one object per line,
``left,top,width,height,score,category,truncation,occlusion`` in pixels.

Rule for the two non-object categories (the DET toolkit's own evaluation rule): category 0
("ignored regions") and any row with score 0 mark areas to ignore, and category 11
("others") is outside the benchmark's ten classes; both are dropped, each as a problem of
kind ``box`` so they are counted. The ten standard names are :data:`VISDRONE_NAMES`.
"""

from __future__ import annotations

from tasks.annotations.model import AnnotationSet, SetBuilder, as_number, decode_lines

FORMAT = "visdrone"
VISDRONE_NAMES = {
    1: "pedestrian",
    2: "people",
    3: "bicycle",
    4: "car",
    5: "van",
    6: "truck",
    7: "tricycle",
    8: "awning-tricycle",
    9: "bus",
    10: "motor",
}
IGNORED_REGION = 0
OTHERS = 11


def _category(
    b: SetBuilder, line_no: int, image_ref: str, score: float, category: float
) -> str | None:
    if category == IGNORED_REGION or score == 0:
        b.problem(
            line_no,
            "visdrone-ignored-region",
            f"ignored region (category {category:g}, score {score:g}) is not an object",
            kind="box",
        )
        return None
    if category == OTHERS:
        b.problem(
            line_no,
            "visdrone-others",
            "category 11 'others' is outside the ten VisDrone classes",
            kind="box",
        )
        return None
    name = VISDRONE_NAMES.get(int(category)) if category.is_integer() else None
    if name is None:
        b.lost(
            line_no,
            image_ref,
            "visdrone-unknown-category",
            f"category must be 0..11, got {category:g}",
        )
    return name


def read_visdrone(data: bytes, uri: str, *, image_ref: str) -> AnnotationSet:
    """Boxes of one VisDrone-DET txt for the image named ``image_ref`` (its stem)."""
    b = SetBuilder(FORMAT, uri)
    b.cover(image_ref, None)
    for line_no, text in decode_lines(data, b, image_ref):
        if not text.strip():
            continue
        fields = [f.strip() for f in text.strip().removesuffix(",").split(",")]
        if len(fields) < 6:
            b.lost(
                line_no,
                image_ref,
                "visdrone-field-count",
                f"line needs 8 comma-separated fields, got {len(fields)}",
            )
            continue
        values = [as_number(f) for f in fields[:8]]
        if None in values[:6]:
            b.lost(
                line_no,
                image_ref,
                "visdrone-not-numeric",
                f"fields must be finite numbers, got {text.strip()!r}",
            )
            continue
        left, top, width, height, score, category = values[:6]  # type: ignore[misc]
        name = _category(b, line_no, image_ref, score, category)
        if name is None:
            continue
        b.box(
            image_ref,
            line_no,
            name,
            (left, top, left + width, top + height),
            truncated=None if len(values) < 7 or values[6] is None else int(values[6]),
            occlusion=None if len(values) < 8 or values[7] is None else int(values[7]),
        )
    return b.build()
