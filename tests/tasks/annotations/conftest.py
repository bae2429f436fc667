"""Helpers for the annotation tests: a minimal images table, label text and its inverse."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from tasks.layout import format_label_line, parse_label_line
from tasks.orientation import displayed_size, read_orientation
from tasks.tables import STATUS_OK


def _images_table(root: Path) -> pd.DataFrame:
    """What discover + profile give for the images under ``root``: the columns resolve reads."""
    rows = []
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() not in (".jpg", ".jpeg", ".png"):
            continue
        data = path.read_bytes()
        with Image.open(io.BytesIO(data)) as image:
            orientation = read_orientation(data)
            width, height = displayed_size(*image.size, orientation)
        rows.append(
            {
                "key": path.relative_to(root).as_posix(),
                "uri": str(path),
                "width": width,
                "height": height,
                "orientation": orientation,
                "status": STATUS_OK,
            }
        )
    return pd.DataFrame(rows)


@pytest.fixture
def images_table() -> Callable[[Path], pd.DataFrame]:
    return _images_table


def label_texts(boxes: pd.DataFrame) -> dict[str, str]:
    """Per image key, the label file text publish writes (class-id'd boxes, in order)."""
    texts: dict[str, str] = {}
    for key, group in boxes.groupby("image_key", sort=True):
        lines = [
            format_label_line(row.class_id, row.x_center, row.y_center, row.width, row.height)
            for row in group.itertuples(index=False)
        ]
        texts[str(key)] = "".join(line + "\n" for line in lines)
    return texts


def pixels_from_label_text(
    text: str, width: int, height: int
) -> list[tuple[int, float, float, float, float]]:
    """Label text back to ``(class_id, x_min, y_min, x_max, y_max)`` in pixels."""
    out = []
    for i, line in enumerate(text.splitlines(), start=1):
        class_id, xc, yc, w, h = parse_label_line(line, f"label:{i}")
        out.append(
            (
                class_id,
                (xc - w / 2) * width,
                (yc - h / 2) * height,
                (xc + w / 2) * width,
                (yc + h / 2) * height,
            )
        )
    return out


@pytest.fixture
def to_label_texts() -> Callable[[pd.DataFrame], dict[str, str]]:
    return label_texts


@pytest.fixture
def to_pixels() -> Callable[[str, int, int], list[tuple[int, float, float, float, float]]]:
    return pixels_from_label_text
