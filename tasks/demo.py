"""Demo raw data: drone-like nadir scenes, a Ground Truth output manifest, known defects.

``python -m flows.prepare`` with no arguments prepares a dataset from this folder::

    <root>/raw-data/flight_01/frame_0001.jpg ...   images, several flights
    <root>/labels/output.manifest                  SageMaker Ground Truth output manifest
    <root>/demo.json                               what was made (written last)

Each flight (10 frames; 1280x720, 1024x768 or 1280x800 px, about 5 cm per pixel) is one
long strip of synthetic ground seen from above: crop fields, meadows and bare soil, an
asphalt road with lane markings and parking lots, or a river with banks; tree canopies
with shadows. The drone takes bursts of 4 frames drifting 14 px apart, so frames of a
burst are near-duplicates (pHash within about 4 bits); bursts do not overlap. Objects
(``car``, ``truck``, ``person``, ``building``, ``boat``) are drawn top-down with shadows
cast along one sun direction per flight; a box is the axis-aligned box enclosing the drawn
shape (not its shadow), clipped to the frame, and kept when at least 30 % of it is inside.
Every frame is rendered with numpy and Pillow only, one flight per thread.

The manifest's ``source-ref`` URIs name another bucket (:data:`GT_SOURCE_ROOT`), as a
labelling job run elsewhere would: the pipeline matches them by the key below the root.
A few inputs are broken on purpose; :attr:`DemoData.defects` says which and how.
"""

from __future__ import annotations

import io
import json
import logging
import math
import os
import shutil
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter
from prefect import task
from prefect.cache_policies import NONE

log = logging.getLogger(__name__)

CLASSES = ("car", "truck", "person", "building", "boat")  # the labelling job's class list
LABEL_ATTRIBUTE = "drone-objects"
JOB_NAME = f"labeling-job/{LABEL_ATTRIBUTE}"
GT_SOURCE_ROOT = "s3://droneprep-demo-labeling/raw-data/"  # where the job saw the images
RAW_DIR, LABELS_DIR, MANIFEST_NAME, RECORD_NAME = (
    "raw-data",
    "labels",
    "output.manifest",
    "demo.json",
)
FRAMES_PER_FLIGHT = 10  # short flights: a split by folder can still hit 20 % val closely
BURST_FRAMES = 4
FRAME_SIZES_PX = ((1280, 720), (1280, 720), (1024, 768), (1280, 720), (1280, 800))
MIN_IMAGES = 24
JPEG_QUALITY = 85
SHIFT_PX = 14  # drone drift between frames of a burst: a near-duplicate view
MARGIN_PX = 28  # scene rows above and below the frames (vertical jitter)
FLIGHT_KINDS = ("road", "village", "river")
START_TIME = datetime(2026, 6, 14, 9, 30, 0)
DEMO_VERSION = 1  # bump when the generator's output changes
Rgb = tuple[int, int, int]

# materials of the ground map: parcels use ids below _PARCELS_MAX
_PARCELS_MAX = 48
_ROAD, _SHOULDER, _MARK, _WATER, _BANK, _PAVED = 50, 51, 52, 53, 54, 55
_CAR_COLOURS: tuple[Rgb, ...] = (
    (226, 226, 222), (226, 226, 222), (172, 174, 178), (172, 174, 178), (32, 32, 36),
    (96, 98, 102), (150, 32, 30), (36, 62, 124), (44, 74, 54), (190, 176, 142),
)  # fmt: skip
_ROOF_COLOURS: tuple[Rgb, ...] = (
    (158, 84, 62), (150, 70, 52), (80, 82, 90), (112, 82, 62), (168, 166, 160), (92, 106, 98),
)  # fmt: skip
_CLOTHES: tuple[Rgb, ...] = (
    (200, 40, 40), (40, 60, 160), (230, 200, 40), (30, 30, 30), (235, 235, 235), (60, 120, 60),
    (240, 120, 30),
)  # fmt: skip
_HULLS: tuple[Rgb, ...] = ((236, 236, 232), (230, 230, 226), (40, 70, 140), (170, 40, 40))


# -- what the generator returns ---------------------------------------------------------


@dataclass(frozen=True)
class DemoDefect:
    """One input that is wrong on purpose. ``key`` is below ``source_uri``."""

    key: str
    kind: str  # truncated-jpeg, not-an-image, unlabeled, background, malformed-manifest-line,
    # failure-reason, exif-orientation-6, exact-duplicate, near-duplicate, png
    detail: str
    manifest_line: int | None = None  # 1-based line of output.manifest, when one is involved


@dataclass(frozen=True)
class DemoData:
    """Where the demo raw data is, and what is in it."""

    source_uri: str  # the raw-data folder (image root)
    annotations_uri: str  # the Ground Truth output manifest
    classes: tuple[str, ...]
    n_images: int  # files with an image extension under source_uri (defective ones included)
    n_frames: int  # rendered frames (n_images less the copies and the non-image)
    n_manifest_lines: int
    n_boxes: int  # boxes in the manifest's well-formed lines
    class_instances: dict[str, int]
    defects: tuple[DemoDefect, ...]
    seed: int = 0
    parameters: dict[str, int] = field(default_factory=dict)

    def keys(self, kind: str) -> list[str]:
        """Keys of the defects of one kind, sorted."""
        return sorted(d.key for d in self.defects if d.kind == kind)

    @property
    def undecodable_keys(self) -> list[str]:
        """Image files that must be quarantined: they do not decode."""
        return sorted(self.keys("truncated-jpeg") + self.keys("not-an-image"))

    @property
    def unlabeled_keys(self) -> list[str]:
        """Decodable images that no well-formed manifest line labels."""
        return sorted(self.keys("unlabeled") + self.keys("malformed-manifest-line"))


@dataclass(frozen=True)
class _Shape:
    """Polygons drawn in order; ``class_name`` None for markings that are not objects."""

    class_name: str | None
    parts: tuple[tuple[np.ndarray, Rgb], ...]
    footprint: np.ndarray | None = None  # casts the shadow
    shadow_px: float = 0.0
    box_xyxy: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)


@dataclass
class _Frame:
    key: str
    data: bytes
    width_px: int
    height_px: int
    boxes: list[tuple[str, int, int, int, int]]  # class, left, top, width, height (px)
    taken_at: datetime


# -- textures ----------------------------------------------------------------------------


def _smooth_noise(
    rng: np.random.Generator, shape: tuple[int, int], cells_px: tuple[int, ...]
) -> np.ndarray:
    """Value noise in about [0, 1]: random grids upsampled (bilinear) and summed, one per scale."""
    height, width = shape
    out = np.zeros(shape, np.float32)
    weights = [1.0 / (i + 1) for i in range(len(cells_px))]
    for cell, weight in zip(cells_px, weights, strict=True):
        grid_h, grid_w = height // cell + 3, width // cell + 3
        grid = Image.fromarray(rng.random((grid_h, grid_w), dtype=np.float32), "F")
        up = grid.resize((grid_w * cell, grid_h * cell), Image.Resampling.BILINEAR)
        out += weight * np.asarray(up)[cell : cell + height, cell : cell + width]
    out /= sum(weights)
    return out


def _centerline(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """Row of a gently curving road or river at every column."""
    x = np.arange(width, dtype=np.float32)
    centre = height * rng.uniform(0.35, 0.65)
    waves = sum(
        rng.uniform(0.03, 0.1) * height * np.sin(2 * np.pi * x / rng.uniform(1800, 5000) + p)
        for p in rng.uniform(0, 2 * np.pi, 2)
    )
    return (centre + waves).astype(np.float32)


def _parcel_ids(rng: np.random.Generator, height: int, width: int, line: np.ndarray) -> np.ndarray:
    """Field parcels with slanted straight edges, split by the road line."""
    slope = rng.uniform(-0.4, 0.4)
    bounds = np.cumsum(rng.uniform(500, 1400, size=width // 500 + 4)) - 300
    rows = np.arange(height, dtype=np.float32)[:, None]
    edges = np.zeros((height, width + 1), np.uint8)
    crossing = np.clip((bounds[None, :] - slope * rows).astype(int), 0, width)
    np.add.at(edges, (np.broadcast_to(np.arange(height)[:, None], crossing.shape), crossing), 1)
    column_id = np.cumsum(edges[:, :width], axis=1, dtype=np.uint8)
    below = rows > line[None, :]
    return np.minimum(column_id * 2 + below, _PARCELS_MAX - 1).astype(np.uint8)


def _parcel_colours(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Colours A and B of every parcel, drawn from a few field types."""
    palette = np.array(
        [  # meadow, crop, bare soil, dry grass, lawn
            [(56, 84, 36), (92, 116, 56)],
            [(70, 96, 38), (118, 130, 62)],
            [(112, 92, 68), (146, 124, 94)],
            [(150, 140, 88), (184, 170, 116)],
            [(64, 104, 44), (84, 126, 58)],
        ],
        np.float32,
    )
    kinds = rng.choice(len(palette), size=_PARCELS_MAX, p=[0.3, 0.3, 0.15, 0.15, 0.1])
    return palette[kinds, 0], palette[kinds, 1]


def _materials(
    rng: np.random.Generator, height: int, width: int, kind: str, line: np.ndarray
) -> np.ndarray:
    """Material map: field parcels, and a road with markings or a river with banks."""
    material = _parcel_ids(rng, height, width, line)
    half = rng.uniform(110, 160) if kind == "river" else rng.uniform(62, 74)
    # only the rows the road or river can reach
    top = max(int(line.min() - half - 20), 0)
    bottom = min(int(line.max() + half + 20), height)
    band = material[top:bottom]
    rows = np.arange(top, bottom, dtype=np.float32)[:, None]
    distance = np.abs(rows - line[None, :])
    if kind == "river":
        band[distance < half + 16] = _BANK
        band[distance < half] = _WATER
        return material
    band[distance < half + 12] = _SHOULDER
    band[distance < half] = _ROAD
    edge = np.abs(distance - (half - 7)) < 2.2
    dashes = (distance < 2.2) & ((np.arange(width)[None, :] // 60) % 2 == 0)
    band[edge | dashes] = _MARK
    return material


def _noise_image(rng: np.random.Generator, height: int, width: int, cell_px: int) -> Image.Image:
    """Value noise as an 8-bit image: a random grid, one value per cell, upsampled (bilinear)."""
    grid = rng.integers(0, 256, size=(height // cell_px + 3, width // cell_px + 3), dtype=np.uint8)
    box = (1.0, 1.0, 1 + width / cell_px, 1 + height / cell_px)
    return Image.fromarray(grid, "L").resize((width, height), Image.Resampling.BILINEAR, box=box)


def _palette(colours: np.ndarray) -> bytes:
    lut = np.zeros((256, 3), np.uint8)
    lut[: len(colours)] = colours
    return lut.tobytes()


def _colour(rng: np.random.Generator, material: np.ndarray) -> Image.Image:
    """RGB ground: each material blends its two colours by multi-scale noise and grain."""
    height, width = material.shape
    colour_a, colour_b = _parcel_colours(rng)
    lut_a = np.zeros((64, 3), np.float32)
    lut_b = np.zeros((64, 3), np.float32)
    lut_a[:_PARCELS_MAX], lut_b[:_PARCELS_MAX] = colour_a, colour_b
    for mat, a, b in (
        (_ROAD, (66, 67, 70), (92, 92, 96)),
        (_SHOULDER, (110, 102, 88), (140, 130, 112)),
        (_MARK, (214, 214, 206), (236, 236, 228)),
        (_WATER, (28, 52, 58), (52, 82, 86)),
        (_BANK, (128, 116, 86), (168, 154, 118)),
        (_PAVED, (96, 96, 98), (122, 122, 124)),
    ):
        lut_a[mat], lut_b[mat] = a, b
    coarse, fine = (_noise_image(rng, height, width, cell) for cell in (160, 24))
    contrast = [min(255, max(0, round((i - 127.5) * 2.2 + 127.5))) for i in range(256)]
    grain = Image.fromarray(rng.integers(0, 91, size=(height, width), dtype=np.uint8), "L")
    mask = ImageChops.add(Image.blend(coarse, fine, 1 / 3).point(contrast), grain, offset=-45)
    layers = []
    for lut in (lut_a, lut_b):
        layer = Image.fromarray(material, "P")
        layer.putpalette(_palette(lut.astype(np.uint8)))
        layers.append(layer.convert("RGB"))
    return Image.composite(layers[1], layers[0], mask)


def _furrows(material: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """Crop rows as a brightness factor (255 = 1): stripes of their own angle and pitch per parcel.

    Computed at half resolution and scaled up (bilinear): the rows are 9-16 px apart.
    """
    angle = rng.uniform(0, np.pi, _PARCELS_MAX).astype(np.float32)
    pitch = rng.uniform(4.5, 8, _PARCELS_MAX).astype(np.float32)  # half-resolution pixels
    depth = np.where(rng.random(_PARCELS_MAX) < 0.6, rng.uniform(0.08, 0.2), 0).astype(np.float32)
    depth = np.append(depth, np.zeros(256 - _PARCELS_MAX, np.float32))
    coarse = material[::2, ::2]
    ids = np.minimum(coarse, _PARCELS_MAX - 1)
    rows = np.arange(coarse.shape[0], dtype=np.float32)[:, None]
    cols = np.arange(coarse.shape[1], dtype=np.float32)[None, :]
    phase = cols * (np.cos(angle) / pitch)[ids]
    phase += rows * (np.sin(angle) / pitch)[ids]
    stripes = np.sin(2 * np.pi * phase)
    stripes += 1
    stripes *= -0.5 * 255 * depth[coarse]
    stripes += 255
    height, width = material.shape
    return Image.fromarray(stripes.astype(np.uint8), "L").resize(
        (width, height), Image.Resampling.BILINEAR, box=(0, 0, width / 2, height / 2)
    )


# -- shapes: polygons in scene pixels ----------------------------------------------------


def _place(local: np.ndarray, cx: float, cy: float, angle: float) -> np.ndarray:
    """Local polygon (x forward, y right) rotated by ``angle`` and moved to (cx, cy)."""
    c, s = math.cos(angle), math.sin(angle)
    return local @ np.array([[c, s], [-s, c]], np.float64) + (cx, cy)


def _rect(x0: float, x1: float, y0: float, y1: float) -> np.ndarray:
    return np.array([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], np.float64)


def _octagon(length: float, width: float, corner: float) -> np.ndarray:
    hl, hw = length / 2, width / 2
    return np.array(
        [(hl - corner, -hw), (hl, -hw + corner), (hl, hw - corner), (hl - corner, hw),
         (-hl + corner, hw), (-hl, hw - corner), (-hl, -hw + corner), (-hl + corner, -hw)],
        np.float64,
    )  # fmt: skip


def _ellipse(rx: float, ry: float, cx: float = 0.0, cy: float = 0.0, n: int = 14) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1)


def _tone(colour: Rgb, factor: float) -> Rgb:
    r, g, b = (min(255, max(0, round(v * factor))) for v in colour)
    return (r, g, b)


def _shape(
    class_name: str | None,
    parts: list[tuple[np.ndarray, Rgb]],
    shadow_px: float = 0.0,
) -> _Shape:
    """A shape whose box encloses every part and whose first part casts the shadow."""
    points = np.concatenate([p for p, _ in parts])
    low, high = points.min(axis=0), points.max(axis=0)
    box = (float(low[0]), float(low[1]), float(high[0]), float(high[1]))
    return _Shape(class_name, tuple(parts), parts[0][0], shadow_px, box)


def _car(rng: np.random.Generator, cx: float, cy: float, angle: float) -> _Shape:
    length = rng.uniform(78, 96)
    width = length * rng.uniform(0.41, 0.46)
    colour = _CAR_COLOURS[rng.integers(len(_CAR_COLOURS))]
    glass: Rgb = (30, 34, 40)
    hl, hw = length / 2, width / 2
    parts = [
        (_octagon(length, width, width * 0.3), colour),
        (_rect(-0.27 * length, 0.1 * length, -0.8 * hw, 0.8 * hw), _tone(colour, 1.07)),
        (np.array([(0.1 * hl * 2, -0.8 * hw), (0.27 * hl * 2, -0.72 * hw),
                   (0.27 * hl * 2, 0.72 * hw), (0.1 * hl * 2, 0.8 * hw)]), glass),
        (np.array([(-0.36 * length, -0.72 * hw), (-0.27 * length, -0.8 * hw),
                   (-0.27 * length, 0.8 * hw), (-0.36 * length, 0.72 * hw)]), glass),
    ]  # fmt: skip
    return _shape("car", [(_place(p, cx, cy, angle), c) for p, c in parts], shadow_px=15)


def _truck(rng: np.random.Generator, cx: float, cy: float, angle: float) -> _Shape:
    length, width = rng.uniform(170, 260), rng.uniform(46, 54)
    cab = _CAR_COLOURS[rng.integers(len(_CAR_COLOURS))]
    box_colour = ((236, 236, 232), (200, 60, 40), (60, 90, 150), (180, 180, 176))[rng.integers(4)]
    hl, hw = length / 2, width / 2
    parts = [
        (_rect(-hl, hl, -hw, hw), (40, 40, 42)),  # chassis, casts the shadow
        (_rect(-hl, 0.27 * length, -hw, hw), box_colour),
        (_octagon(0.19 * length, width, 6) + np.array([0.4 * length, 0.0]), cab),
        (_rect(0.45 * length, 0.485 * length, -0.8 * hw, 0.8 * hw), (30, 34, 40)),
    ]
    for x in np.arange(-hl + 10, 0.27 * length - 4, 16):
        parts.append((_rect(x, x + 2.5, -hw + 2, hw - 2), _tone(box_colour, 0.86)))
    return _shape("truck", [(_place(p, cx, cy, angle), c) for p, c in parts], shadow_px=32)


def _person(rng: np.random.Generator, cx: float, cy: float, angle: float) -> _Shape:
    shirt = _CLOTHES[rng.integers(len(_CLOTHES))]
    hair = ((30, 24, 20), (70, 50, 30), (190, 160, 110), (20, 20, 20))[rng.integers(4)]
    parts = [(_ellipse(3.6, 6.2, n=12), shirt), (_ellipse(2.8, 2.8, cx=0.6, n=10), hair)]
    return _shape("person", [(_place(p, cx, cy, angle), c) for p, c in parts], shadow_px=34)


def _roof_parts(rng: np.random.Generator, length: float, width: float, colour: Rgb, lit: float):
    hl, hw = length / 2, width / 2
    style = rng.choice(["gable", "hip", "flat"], p=[0.45, 0.35, 0.2])
    if style == "flat":
        parts = [
            (_rect(-hl, hl, -hw, hw), (158, 158, 154)),
            (_rect(-hl + 6, hl - 6, -hw + 6, hw - 6), (128, 128, 126)),
        ]
        for _ in range(rng.integers(1, 4)):
            x, y = rng.uniform(-hl + 30, hl - 30), rng.uniform(-hw + 24, hw - 24)
            parts.append((_rect(x - 14, x + 14, y - 10, y + 10), (196, 196, 194)))
        return parts
    light, dark = _tone(colour, 1 + 0.16 * lit), _tone(colour, 1 - 0.16 * lit)
    ridge = hl - (hw if style == "hip" else 0)
    parts = [
        (_rect(-hl, hl, -hw, hw), colour),
        (np.array([(-hl, -hw), (hl, -hw), (ridge, 0), (-ridge, 0)]), light),
        (np.array([(-hl, hw), (hl, hw), (ridge, 0), (-ridge, 0)]), dark),
        (_rect(-ridge, ridge, -1.5, 1.5), _tone(colour, 1.25)),
    ]
    return parts


def _building(rng: np.random.Generator, cx: float, cy: float, angle: float, sun: np.ndarray):
    length = rng.uniform(170, 360)
    width = rng.uniform(130, min(length, 260))
    colour = _ROOF_COLOURS[rng.integers(len(_ROOF_COLOURS))]
    side = np.array([-math.sin(angle), math.cos(angle)])  # world direction of local -y
    lit = float(np.dot(side, sun))  # the half facing away from the shadow is lit
    parts = _roof_parts(rng, length, width, colour, lit)
    shadow = rng.uniform(45, 90)
    return _shape("building", [(_place(p, cx, cy, angle), c) for p, c in parts], shadow)


def _boat(rng: np.random.Generator, cx: float, cy: float, angle: float) -> list[_Shape]:
    """A boat and its wake (drawn first, not an object)."""
    length = rng.uniform(70, 170)
    width = length * rng.uniform(0.3, 0.38)
    hl, hw = length / 2, width / 2
    hull_colour = _HULLS[rng.integers(len(_HULLS))]
    hull = np.array(
        [(hl, 0), (hl * 0.45, -hw), (-hl, -hw * 0.85), (-hl, hw * 0.85), (hl * 0.45, hw)]
    )
    parts = [
        (hull, hull_colour),
        (hull * 0.8, (150, 120, 84)),
        (_rect(-0.2 * length, 0.12 * length, -0.55 * hw, 0.55 * hw), (226, 226, 222)),
    ]
    wake = []
    for sign in (-1, 1):
        tail = -hl - 1.2 * length
        streak = np.array([(-hl, 0.7), (tail, 2.0), (tail, 1.8), (-hl, 0.4)]) * (1, sign * hw)
        wake.append((_place(streak, cx, cy, angle), (70, 96, 100)))
    boat = _shape("boat", [(_place(p, cx, cy, angle), c) for p, c in parts], shadow_px=6)
    return [_Shape(None, tuple(wake)), boat]


# -- scene layout ------------------------------------------------------------------------


def _is_land(values: np.ndarray) -> np.ndarray:
    return values < _PARCELS_MAX


def _is_road(values: np.ndarray) -> np.ndarray:
    return (values == _ROAD) | (values == _MARK)


def _is_water(values: np.ndarray) -> np.ndarray:
    return values == _WATER


def _is_walkable(values: np.ndarray) -> np.ndarray:
    return (values < _PARCELS_MAX) | (values == _SHOULDER) | (values == _PAVED) | (values == _BANK)


def _is_paved(values: np.ndarray) -> np.ndarray:
    return values == _PAVED


@dataclass
class _Layout:
    """Shapes placed so far; refuses overlaps, wrong ground and objects in empty spans."""

    material: np.ndarray
    empty_spans_px: list[tuple[float, float]]
    shapes: list[_Shape] = field(default_factory=list)
    taken: list[tuple[float, float, float, float]] = field(default_factory=list)
    trees: list[tuple[float, float, float]] = field(default_factory=list)

    def fits(self, box: tuple[float, float, float, float], points: np.ndarray, ground, pad=4.0):
        height, width = self.material.shape
        x0, y0, x1, y1 = box
        if x0 < 1 or y0 < 1 or x1 > width - 2 or y1 > height - 2:
            return False
        cols = np.clip(points[:, 0].astype(int), 0, width - 1)
        rows = np.clip(points[:, 1].astype(int), 0, height - 1)
        if not ground(self.material[rows, cols]).all():
            return False
        return not any(
            x0 - pad < b[2] and b[0] < x1 + pad and y0 - pad < b[3] and b[1] < y1 + pad
            for b in self.taken
        )

    def add(self, shape: _Shape, ground, pad: float = 4.0) -> bool:
        """Add ``shape`` if its footprint is on ``ground`` and it overlaps nothing."""
        x0, _, x1, _ = shape.box_xyxy
        if shape.class_name and any(x0 < b and a < x1 for a, b in self.empty_spans_px):
            return False
        points = np.concatenate([shape.parts[0][0], shape.parts[0][0].mean(axis=0)[None]])
        if not self.fits(shape.box_xyxy, points, ground, pad):
            return False
        self.shapes.append(shape)
        self.taken.append(shape.box_xyxy)
        return True


def _road_angle(line: np.ndarray, x: float) -> float:
    i = int(np.clip(x, 1, len(line) - 2))
    return math.atan2(float(line[i + 1] - line[i - 1]), 2.0)


def _add_lots(rng: np.random.Generator, layout: _Layout, line: np.ndarray) -> None:
    """Parking lots beside the road, paved in the material map, with stall lines and cars."""
    width = layout.material.shape[1]
    for x0 in np.arange(200, width - 600, rng.uniform(900, 1500)):
        lot_w, side = rng.uniform(260, 480), rng.choice([-1, 1])
        span = line[int(x0) : int(x0 + lot_w)]
        y0 = span.max() + 100 if side > 0 else span.min() - 100 - 112
        box = (float(x0), float(y0), float(x0 + lot_w), float(y0 + 112))
        corners = _rect(box[0], box[2], box[1], box[3])
        if not layout.fits(box, corners, _is_land, pad=10):
            continue
        layout.material[int(y0) : int(y0 + 112), int(x0) : int(x0 + lot_w)] = _PAVED
        for x in np.arange(x0 + 6, x0 + lot_w - 50, 52):
            line_shape = _rect(x, x + 3, y0 + 6, y0 + 106)
            layout.shapes.append(_Shape(None, ((line_shape, (222, 222, 214)),)))
            if rng.random() < 0.65:
                angle = math.pi / 2 + rng.normal(0, 0.04) + (math.pi if rng.random() < 0.5 else 0)
                layout.add(_car(rng, x + 27.5, y0 + 56, angle), _is_paved, pad=1)
        layout.taken.append(box)


def _add_buildings(
    rng: np.random.Generator, layout: _Layout, line: np.ndarray, sun: np.ndarray, kind: str
) -> None:
    width = layout.material.shape[1]
    step = {"village": (260, 420), "road": (900, 1900), "river": (700, 1400)}[kind]
    x = rng.uniform(100, 400)
    while x < width - 100:
        side = rng.choice([-1, 1])
        setback = rng.uniform(250, 340) if kind != "village" else rng.uniform(200, 280)
        y = float(line[int(x)]) + side * setback + rng.normal(0, 40)
        angle = _road_angle(line, x) + rng.choice([0, math.pi / 2]) + rng.normal(0, 0.05)
        for _ in range(4):
            if layout.add(_building(rng, x, y, angle, sun), _is_land, pad=24):
                break
        x += rng.uniform(*step)


def _add_trees(rng: np.random.Generator, layout: _Layout, count: int) -> None:
    """Clumps of tree canopies on land, clear of everything placed so far."""
    height, width = layout.material.shape
    while count > 0:
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        spread = rng.uniform(30, 140)
        for _ in range(int(rng.integers(3, 14))):
            x, y = cx + rng.normal(0, spread), cy + rng.normal(0, spread * 0.7)
            r = rng.uniform(26, 62)
            box = (x - r, y - r, x + r, y + r)
            if layout.fits(box, _ellipse(r, r, x, y, n=8), _is_land, pad=-r * 0.5):
                layout.trees.append((x, y, r))
                layout.taken.append(box)
            count -= 1


def _add_traffic(rng: np.random.Generator, layout: _Layout, line: np.ndarray) -> None:
    """Cars and some trucks in both lanes, at random gaps."""
    width = layout.material.shape[1]
    for lane in (-1, 1):
        x = rng.uniform(0, 300)
        while x < width:
            y = float(line[int(min(x, width - 1))]) + lane * rng.uniform(30, 36)
            angle = _road_angle(line, x) + (0 if lane > 0 else math.pi) + rng.normal(0, 0.03)
            maker = _truck if rng.random() < 0.18 else _car
            layout.add(maker(rng, x, y, angle), _is_road, pad=10)
            x += rng.uniform(120, 600)


def _add_people(rng: np.random.Generator, layout: _Layout, groups: int) -> None:
    height, width = layout.material.shape
    for _ in range(groups):
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        for _ in range(int(rng.integers(1, 5))):
            x, y = cx + rng.normal(0, 18), cy + rng.normal(0, 18)
            layout.add(_person(rng, x, y, rng.uniform(0, 2 * np.pi)), _is_walkable, pad=3)


def _add_boats(rng: np.random.Generator, layout: _Layout, line: np.ndarray) -> None:
    width = layout.material.shape[1]
    x = rng.uniform(0, 300)
    while x < width:
        y = float(line[int(min(x, width - 1))]) + rng.normal(0, 45)
        angle = _road_angle(line, x) + rng.choice([0, math.pi]) + rng.normal(0, 0.25)
        wake, boat = _boat(rng, x, y, angle)
        if layout.add(boat, _is_water, pad=12):
            layout.shapes.insert(0, wake)
        x += rng.uniform(200, 650)


# -- rendering ---------------------------------------------------------------------------


def _cast_shadows(layout: _Layout, sun: np.ndarray) -> Image.Image:
    """Brightness factor (255 = 1, 128 in full shadow): footprints swept along the sun.

    Drawn at half resolution and scaled up: shadows are soft anyway, and it is 4x cheaper.
    """
    height, width = layout.material.shape
    mask = Image.new("L", (width // 2 + 1, height // 2 + 1), 0)
    draw = ImageDraw.Draw(mask)
    for shape in layout.shapes:
        if shape.footprint is None or shape.shadow_px <= 0:
            continue
        for t in np.linspace(0, shape.shadow_px, max(2, int(shape.shadow_px / 6))):
            draw.polygon([tuple(p) for p in (shape.footprint + sun * t) / 2], fill=255)
    for x, y, r in layout.trees:
        cx, cy = (x + sun[0] * r * 0.9) / 2, (y + sun[1] * r * 0.9) / 2
        draw.ellipse((cx - r / 2, cy - r * 0.45, cx + r / 2, cy + r * 0.45), fill=255)
    mask = mask.filter(ImageFilter.BoxBlur(1.5)).point([255 - i // 2 for i in range(256)])
    return mask.resize(
        (width, height), Image.Resampling.BILINEAR, box=(0, 0, width / 2, height / 2)
    )


def _paint_tree(
    image: Image.Image, tree: tuple[float, float, float], sun: np.ndarray, leaves: np.ndarray, rng
) -> None:
    """A canopy: lumpy disc shaded as a dome lit from the side opposite the shadow (in place)."""
    x, y, r = tree
    x0, y0 = max(int(x - 1.3 * r), 0), max(int(y - 1.3 * r), 0)
    x1, y1 = min(int(x + 1.3 * r) + 1, image.width), min(int(y + 1.3 * r) + 1, image.height)
    rows, cols = np.mgrid[y0:y1, x0:x1]
    dx, dy = (cols - x) / r, (rows - y) / r
    angle = np.arctan2(dy, dx)
    edge = np.ones_like(angle)
    for k in rng.choice(np.arange(2, 12), size=4, replace=False):
        edge += rng.uniform(0.02, 0.08) * np.sin(k * angle + rng.uniform(0, 2 * np.pi))
    rad = np.hypot(dx, dy) / edge
    z = np.sqrt(np.clip(1 - rad**2, 0, 1))
    lambert = np.clip(-(dx * sun[0] + dy * sun[1]) * 0.5 + z * 0.7, 0, 1)
    shade = (0.3 + 0.8 * lambert) * leaves[rows % leaves.shape[0], cols % leaves.shape[1]]
    colour = np.array(((38, 66, 30), (48, 80, 36), (60, 86, 38), (44, 62, 32))[rng.integers(4)])
    patch = np.clip(shade[..., None] * colour, 0, 255).astype(np.uint8)
    mask = Image.fromarray(((rad < 1) * 255).astype(np.uint8), "L")
    image.paste(Image.fromarray(patch, "RGB"), (x0, y0), mask)


def _shading(layout: _Layout, sun: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """Brightness factor of the ground (crop rows, shadows) as an RGB image to multiply by."""
    shade = ImageChops.multiply(_furrows(layout.material, rng), _cast_shadows(layout, sun))
    return Image.merge("RGB", (shade, shade, shade))


def _render(
    rng: np.random.Generator, kind: str, height: int, width: int, empty: list[tuple[float, float]]
) -> tuple[Image.Image, list[_Shape]]:
    """One flight's scene, and its objects (class, box) in scene pixels."""
    line = _centerline(rng, width, height)
    layout = _Layout(_materials(rng, height, width, kind, line), empty)
    azimuth = rng.uniform(0, 2 * np.pi)
    sun = np.array([math.cos(azimuth), math.sin(azimuth)])
    if kind == "village":
        _add_lots(rng, layout, line)
    _add_buildings(rng, layout, line, sun, kind)
    _add_trees(rng, layout, count=width // (40 if kind != "village" else 80))
    if kind == "river":
        _add_boats(rng, layout, line)
    else:
        _add_traffic(rng, layout, line)
    _add_people(rng, layout, groups=width // {"village": 300, "road": 700, "river": 400}[kind])
    image = ImageChops.multiply(_colour(rng, layout.material), _shading(layout, sun, rng))
    leaves = 0.8 + 0.4 * _smooth_noise(rng, (128, 128), (3, 7))
    for tree in layout.trees:
        _paint_tree(image, tree, sun, leaves, rng)
    draw = ImageDraw.Draw(image)
    for shape in sorted(layout.shapes, key=lambda s: s.class_name is not None):
        for points, colour in shape.parts:
            draw.polygon([tuple(p) for p in points], fill=colour)

    return image, [s for s in layout.shapes if s.class_name]


# -- frames ------------------------------------------------------------------------------


def _windows(
    rng: np.random.Generator, n_frames: int, size_px: tuple[int, int]
) -> list[tuple[int, int]]:
    """Top-left corner of each frame in the scene: bursts of slightly shifted views."""
    frame_w, _ = size_px
    corners = []
    for index in range(n_frames):
        burst, step = divmod(index, BURST_FRAMES)
        if step == 0:
            row = MARGIN_PX + int(rng.integers(-MARGIN_PX + 4, MARGIN_PX - 3))
        x0 = MARGIN_PX + burst * frame_w + step * SHIFT_PX + int(rng.integers(-3, 4))
        corners.append((x0, row + int(rng.integers(-3, 4))))
    return corners


def _frame_boxes(
    objects: list[_Shape], corner: tuple[int, int], size_px: tuple[int, int]
) -> list[tuple[str, int, int, int, int]]:
    """Boxes (class, left, top, width, height) of objects at least 30 % inside the frame."""
    (fx, fy), (frame_w, frame_h) = corner, size_px
    boxes = []
    for shape in objects:
        x0, y0, x1, y1 = shape.box_xyxy
        left, top = max(math.floor(x0) - fx, 0), max(math.floor(y0) - fy, 0)
        right, bottom = min(math.ceil(x1) - fx, frame_w), min(math.ceil(y1) - fy, frame_h)
        if right - left < 3 or bottom - top < 3:
            continue
        if (right - left) * (bottom - top) < 0.3 * (x1 - x0) * (y1 - y0):
            continue
        boxes.append((str(shape.class_name), left, top, right - left, bottom - top))
    return boxes


def _exif(taken_at: datetime, orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    stamp = taken_at.strftime("%Y:%m:%d %H:%M:%S")
    exif[0x010F], exif[0x0110], exif[0x0132] = "droneprep", "demo-sim", stamp  # make, model
    if orientation != 1:
        exif[0x0112] = orientation
    exif.get_ifd(0x8769)[0x9003] = stamp  # DateTimeOriginal
    return exif


def _encode(image: Image.Image, taken_at: datetime, fmt: str = "JPEG", **options) -> bytes:
    buffer = io.BytesIO()
    if fmt == "PNG":
        image.save(buffer, "PNG", compress_level=1, exif=_exif(taken_at))
    else:
        orientation = int(options.pop("orientation", 1))
        quality = int(options.pop("quality", JPEG_QUALITY))
        image.save(buffer, "JPEG", quality=quality, exif=_exif(taken_at, orientation))
    return buffer.getvalue()


def _flight(seed: np.random.SeedSequence, number: int, n_frames: int, empty: set[int]):
    """Render flight ``number`` (1-based): its frames, encoded, with their boxes."""
    rng = np.random.default_rng(seed)
    size_px = FRAME_SIZES_PX[(number - 1) % len(FRAME_SIZES_PX)]
    frame_w, frame_h = size_px
    bursts = math.ceil(n_frames / BURST_FRAMES)
    width = 2 * MARGIN_PX + bursts * frame_w + BURST_FRAMES * SHIFT_PX + 16
    spans = [
        (MARGIN_PX + b * frame_w - 12.0, MARGIN_PX + (b + 1) * frame_w + BURST_FRAMES * SHIFT_PX)
        for b in sorted(empty)
    ]
    kind = FLIGHT_KINDS[(number - 1) % len(FLIGHT_KINDS)]
    scene, objects = _render(rng, kind, frame_h + 2 * MARGIN_PX, width, spans)
    start = START_TIME + timedelta(minutes=47 * (number - 1))
    frames = []
    for index, corner in enumerate(_windows(rng, n_frames, size_px)):
        x0, y0 = corner
        image = scene.crop((x0, y0, x0 + frame_w, y0 + frame_h))
        burst, step = divmod(index, BURST_FRAMES)
        taken_at = start + timedelta(seconds=9 * burst + 2 * step)
        key = f"flight_{number:02d}/frame_{index + 1:04d}.jpg"
        boxes = _frame_boxes(objects, corner, size_px)
        frames.append(_Frame(key, _encode(image, taken_at), frame_w, frame_h, boxes, taken_at))
    return frames


# -- the manifest and the defects --------------------------------------------------------


def _manifest_record(frame: _Frame, rng: np.random.Generator, created: datetime) -> dict:
    """One Ground Truth bounding-box output line for ``frame`` (boxes on the displayed image)."""
    ids = {name: i for i, name in enumerate(CLASSES)}
    annotations = [
        {"class_id": ids[name], "left": left, "top": top, "width": width, "height": height}
        for name, left, top, width, height in frame.boxes
    ]
    class_map = {str(ids[name]): name for name in sorted({b[0] for b in frame.boxes}, key=ids.get)}
    return {
        "source-ref": GT_SOURCE_ROOT + frame.key,
        LABEL_ATTRIBUTE: {
            "image_size": [{"width": frame.width_px, "height": frame.height_px, "depth": 3}],
            "annotations": annotations,
        },
        f"{LABEL_ATTRIBUTE}-metadata": {
            "objects": [
                {"confidence": round(float(c), 2)} for c in rng.uniform(0.7, 0.99, len(annotations))
            ],
            "class-map": class_map,
            "type": "groundtruth/object-detection",
            "human-annotated": "yes",
            "creation-date": created.isoformat(timespec="microseconds"),
            "job-name": JOB_NAME,
        },
    }


def _failure_record(key: str, created: datetime) -> dict:
    """The line Ground Truth writes for an object it could not label: metadata only."""
    return {
        "source-ref": GT_SOURCE_ROOT + key,
        f"{LABEL_ATTRIBUTE}-metadata": {
            "failure-reason": f"ClientError: Unable to load image {GT_SOURCE_ROOT + key}: "
            "the object is not a supported image format.",
            "retry-count": 1,
            "type": "groundtruth/object-detection",
            "human-annotated": "yes",
            "creation-date": created.isoformat(timespec="microseconds"),
            "job-name": JOB_NAME,
        },
    }


_ACCESS_DENIED = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
    b"<Message>Access Denied</Message><RequestId>4Q9X2ZJ7E1V8B3KD</RequestId></Error>\n"
)


def _reencoded(frame: _Frame, **options) -> bytes:
    """The frame's pixels saved again (PNG, rotated with an EXIF orientation, or edited)."""
    image = Image.open(io.BytesIO(frame.data)).convert("RGB")
    fmt = options.pop("fmt", "JPEG")
    if options.pop("rotate", False):
        image = image.transpose(Image.Transpose.ROTATE_90)  # stored; displayed after Orientation 6
    gain = options.pop("gain", 1.0)
    if gain != 1.0:
        image = image.point([min(255, round(i * gain)) for i in range(256)] * 3)
    return _encode(image, frame.taken_at, fmt, **options)


def _copy(frame: _Frame, key: str, data: bytes) -> _Frame:
    return _Frame(key, data, frame.width_px, frame.height_px, list(frame.boxes), frame.taken_at)


def _pick(frames: list[_Frame], rng: np.random.Generator, roles: tuple[str, ...]):
    """Distinct frames with objects (two or more where there are enough) for each role."""
    for least in (2, 1):
        candidates = [f for f in frames if len(f.boxes) >= least]
        if len(candidates) >= len(roles):
            chosen = rng.choice(len(candidates), size=len(roles), replace=False)
            return {role: candidates[i] for role, i in zip(roles, chosen, strict=True)}
    raise ValueError(f"need {len(roles)} frames with objects for the defects, got {len(frames)}")


_Note = tuple[str, str, str]  # key, defect kind, detail


def _spoil(picked: dict[str, _Frame], files: dict[str, bytes], seen: dict[str, _Frame]):
    """PNG frames, a rotated frame, a truncated frame (in place); returns their notes."""
    notes: list[_Note] = []
    for frame in (picked["png"], picked["png2"]):
        png_key = frame.key.removesuffix(".jpg") + ".png"
        files[png_key] = _reencoded(frame, fmt="PNG")
        del files[frame.key], seen[frame.key]
        seen[png_key] = _copy(frame, png_key, files[png_key])
        notes.append((png_key, "png", "a PNG frame among the JPEGs"))
    frame = picked["rotated"]
    files[frame.key] = _reencoded(frame, rotate=True, orientation=6)
    stored, shown = f"{frame.height_px}x{frame.width_px}", f"{frame.width_px}x{frame.height_px}"
    detail = (
        f"pixels stored {stored} (rotated 90 degrees counter-clockwise) with EXIF "
        f"Orientation 6; displayed {shown}, which image_size and boxes are on"
    )
    notes.append((frame.key, "exif-orientation-6", detail))
    frame = picked["truncated"]
    cut = len(files[frame.key]) * 45 // 100
    files[frame.key] = files[frame.key][:cut]
    notes.append((frame.key, "truncated-jpeg", f"cut to {cut} bytes: it opens, decoding fails"))
    return notes


def _add_copies(
    picked: dict[str, _Frame], files: dict[str, bytes], seen: dict[str, _Frame], bad_key: str
) -> list[_Note]:
    """An exact copy, an edited copy and a non-image beside the frames (in place)."""
    frame = picked["copied"]
    copy_key = frame.key.removesuffix(".jpg") + " (1).jpg"
    files[copy_key] = files[frame.key]
    seen[copy_key] = _copy(frame, copy_key, files[copy_key])
    frame = picked["edited"]
    edit_key = frame.key.removesuffix(".jpg") + "_edit.jpg"
    files[edit_key] = _reencoded(frame, quality=70, gain=1.04)
    seen[edit_key] = _copy(frame, edit_key, files[edit_key])
    files[bad_key] = _ACCESS_DENIED
    return [
        (copy_key, "exact-duplicate", f"byte-identical copy of {picked['copied'].key}"),
        (edit_key, "near-duplicate", f"{frame.key} 4 % brighter, saved again at quality 70"),
        (bad_key, "not-an-image", "an S3 AccessDenied XML error saved as .jpg"),
        (bad_key, "failure-reason", "its manifest line has a failure-reason and no label"),
    ]


def _break_some(
    frames: list[_Frame], rng: np.random.Generator
) -> tuple[dict[str, bytes], dict[str, _Frame], str, list[_Note]]:
    """Files to write, frames the labelling job labelled, the job's failed key, and notes."""
    roles = ("rotated", "truncated", "png", "png2", "unlabeled", "malformed", "copied", "edited")
    picked = _pick(frames, rng, roles)
    files = {f.key: f.data for f in frames}
    seen = {f.key: f for f in frames}
    last_folder = frames[-1].key.rsplit("/", 1)[0]
    count = sum(f.key.startswith(last_folder + "/") for f in frames)
    bad_key = f"{last_folder}/frame_{count + 1:04d}.jpg"
    notes = _spoil(picked, files, seen) + _add_copies(picked, files, seen, bad_key)
    del seen[picked["unlabeled"].key]
    notes.append((picked["unlabeled"].key, "unlabeled", "no line in the manifest"))
    notes.append((picked["malformed"].key, "malformed-manifest-line",
                  "its manifest line is cut off mid-JSON, so no annotation covers it"))  # fmt: skip
    notes += [
        (k, "background", "the annotation lists no objects") for k, f in seen.items() if not f.boxes
    ]
    return files, seen, bad_key, notes


def _manifest(
    seen: dict[str, _Frame], bad_key: str, malformed_key: str, rng: np.random.Generator
) -> tuple[list[str], dict[str, int]]:
    """Manifest lines in key order, and the line number (1-based) of each key."""
    lines, line_of = [], {}
    for number, key in enumerate(sorted([*seen, bad_key]), start=1):
        line_of[key] = number
        if key == bad_key:
            created = START_TIME + timedelta(days=2, seconds=37 * number)
            lines.append(json.dumps(_failure_record(key, created), separators=(",", ":")))
            continue
        frame = seen[key]
        created = frame.taken_at + timedelta(days=2, seconds=37 * number)
        text = json.dumps(_manifest_record(frame, rng, created), separators=(",", ":"))
        lines.append(text[: len(text) * 3 // 5] if key == malformed_key else text)
    return lines, line_of


def _describe(
    root: Path, seen: dict[str, _Frame], lines: list[str], *, line_of: dict[str, int], notes, meta
) -> DemoData:
    defects = tuple(
        DemoDefect(key, kind, detail, line_of.get(key)) for key, kind, detail in sorted(notes)
    )
    malformed = {d.key for d in defects if d.kind == "malformed-manifest-line"}
    counted = Counter(b[0] for k, f in seen.items() if k not in malformed for b in f.boxes)
    return DemoData(
        source_uri=str(root / RAW_DIR),
        annotations_uri=str(root / LABELS_DIR / MANIFEST_NAME),
        classes=CLASSES,
        n_images=meta["n_files"],
        n_frames=meta["n_frames"],
        n_manifest_lines=len(lines),
        n_boxes=sum(counted.values()),
        class_instances={name: counted.get(name, 0) for name in CLASSES},
        defects=defects,
        seed=meta["seed"],
        parameters={"n_images": meta["n_frames"], "seed": meta["seed"], "version": DEMO_VERSION},
    )


def _render_frames(n_images: int, seed: int) -> list[_Frame]:
    """All flights, rendered in a thread pool (numpy and Pillow release the GIL)."""
    n_flights = max(1, round(n_images / FRAMES_PER_FLIGHT))
    counts = [len(c) for c in np.array_split(np.arange(n_images), n_flights)]
    seeds = np.random.SeedSequence(seed).spawn(n_flights)
    # bursts with no objects, for background images: the 2nd burst of every 9th flight
    empty = [{1} if i % 9 == 1 or n_flights == 1 else set() for i in range(n_flights)]
    with ThreadPoolExecutor(max_workers=min(n_flights, os.cpu_count() or 1)) as pool:
        flights = pool.map(_flight, seeds, range(1, n_flights + 1), counts, empty)
        return [frame for flight in flights for frame in flight]


def make_demo_data(root: Path, *, n_images: int = 320, seed: int = 0) -> DemoData:
    """Write ``n_images`` frames of several flights, the manifest and ``demo.json`` under root.

    Byte-identical for the same ``n_images`` and ``seed``. Refuses a root whose raw-data
    folder was not made by this function; replaces an earlier demo.
    """
    if n_images < MIN_IMAGES:
        raise ValueError(f"n_images must be at least {MIN_IMAGES}, got {n_images}")
    root = Path(root).resolve()
    if (root / RAW_DIR).exists() and not (root / RECORD_NAME).exists():
        raise FileExistsError(f"{root / RAW_DIR} exists and is not a demo folder; remove it")
    started = time.perf_counter()
    frames = _render_frames(n_images, seed)
    rng = np.random.default_rng([seed, 1])
    files, seen, bad_key, notes = _break_some(frames, rng)
    malformed_key = next(k for k, kind, _ in notes if kind == "malformed-manifest-line")
    lines, line_of = _manifest(seen, bad_key, malformed_key, rng)
    meta = {"n_files": len(files), "n_frames": len(frames), "seed": seed}
    demo = _describe(root, seen, lines, line_of=line_of, notes=notes, meta=meta)
    _write(root, files, lines, demo)
    log.info(
        "demo data: %d images, %d manifest lines, %d boxes in %s (%.1f s)",
        demo.n_images, demo.n_manifest_lines, demo.n_boxes, root, time.perf_counter() - started,
    )  # fmt: skip
    return demo


def _write(root: Path, files: dict[str, bytes], lines: list[str], demo: DemoData) -> None:
    """Write into a hidden folder, then move it into place; demo.json goes last."""
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".demo-", dir=root))
    for key, data in files.items():
        path = staging / RAW_DIR / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (staging / LABELS_DIR).mkdir()
    (staging / LABELS_DIR / MANIFEST_NAME).write_text("\n".join(lines) + "\n", encoding="utf-8")
    (root / RECORD_NAME).unlink(missing_ok=True)
    for name in (RAW_DIR, LABELS_DIR):
        if (root / name).exists():
            shutil.rmtree(root / name)
        (staging / name).rename(root / name)
    staging.rmdir()
    relative = {"source_uri": RAW_DIR, "annotations_uri": f"{LABELS_DIR}/{MANIFEST_NAME}"}
    record = json.dumps(asdict(demo) | relative, indent=2, sort_keys=True)  # movable folder
    (root / RECORD_NAME).write_text(record + "\n", encoding="utf-8")


def load_demo_data(root: Path) -> DemoData:
    """The description written by :func:`make_demo_data`, with paths under ``root``."""
    root = Path(root).resolve()
    record = json.loads((root / RECORD_NAME).read_text(encoding="utf-8"))
    record["defects"] = tuple(DemoDefect(**d) for d in record["defects"])
    record["classes"] = tuple(record["classes"])
    record["source_uri"] = str(root / RAW_DIR)
    record["annotations_uri"] = str(root / LABELS_DIR / MANIFEST_NAME)
    return DemoData(**record)


def ensure_demo_data(root: Path, *, n_images: int = 320, seed: int = 0) -> DemoData:
    """The demo under ``root``: made unless a complete one with these parameters is there."""
    wanted = {"n_images": n_images, "seed": seed, "version": DEMO_VERSION}
    if (Path(root) / RECORD_NAME).exists():
        demo = load_demo_data(root)
        if demo.parameters == wanted:
            return demo
    return make_demo_data(root, n_images=n_images, seed=seed)


def demo_inputs(root: str | Path, *, n_images: int = 320, seed: int = 0) -> tuple[str, list[str]]:
    """``(source_uri, [annotations_uri])`` of the demo under ``root``, made if absent."""
    demo = ensure_demo_data(Path(root), n_images=n_images, seed=seed)
    return demo.source_uri, [demo.annotations_uri]


# writes local files only: nothing to retry; demo.json is the cache
demo_task = task(name="demo-data", cache_policy=NONE)(demo_inputs)
