"""DOTA v1 labelTxt: optional header lines (``imagesource:...``, ``gsd:...``), then one
oriented object per line, ``x1 y1 x2 y2 x3 y3 x4 y4 class difficult``, in pixels.

Each quad becomes its axis-aligned enclosing box (min/max of the four points). The
``difficult`` flag is kept as provenance; difficult objects are published.
"""

from __future__ import annotations

from tasks.annotations.model import AnnotationSet, SetBuilder, as_number, decode_lines

FORMAT = "dota"
HEADER_PREFIXES = ("imagesource:", "gsd:")


def read_dota(data: bytes, uri: str, *, image_ref: str) -> AnnotationSet:
    """Enclosing boxes of one DOTA labelTxt for the image named ``image_ref`` (its stem)."""
    b = SetBuilder(FORMAT, uri)
    b.cover(image_ref, None)
    for line_no, text in decode_lines(data, b, image_ref):
        stripped = text.strip()
        if not stripped or stripped.lower().startswith(HEADER_PREFIXES):
            continue
        fields = stripped.split()
        if len(fields) not in (9, 10):
            b.lost(
                line_no,
                image_ref,
                "dota-field-count",
                f"line needs 8 coordinates, a class and a difficult flag, got {len(fields)} fields",
            )
            continue
        coords = [as_number(f) for f in fields[:8]]
        if None in coords:
            b.lost(
                line_no,
                image_ref,
                "dota-not-numeric",
                f"coordinates must be finite numbers, got {' '.join(fields[:8])}",
            )
            continue
        xs, ys = coords[0::2], coords[1::2]
        difficult = as_number(fields[9]) if len(fields) == 10 else None
        b.box(
            image_ref,
            line_no,
            fields[8],
            (min(xs), min(ys), max(xs), max(ys)),  # type: ignore[type-var]
            difficult=None if difficult is None else int(difficult),
        )
    return b.build()
