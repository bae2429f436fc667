"""Cut large frames into overlapping tiles so small objects stay visible at training size.

Runs after splitting, so every tile of a frame shares the frame's split and group.

* A frame larger than ``size`` in either direction is cut into windows of
  ``min(size, width) x min(size, height)`` px, stepping ``size x (1 - overlap)`` px; the last
  window of a row or column is shifted inward to end at the frame's edge, so every tile has
  the full size and the union of the tiles is the frame. Frames not larger than ``size``
  pass through unchanged (row and boxes as they were).
* Each box is clipped to each window it touches and kept there when at least ``min_area`` of
  its area remains. A fragment under that is a :class:`Problem` (kind ``box``, rule
  ``tile-min-area``) naming the box's annotation line, the tile, and how many other tiles
  keep the box, so nothing vanishes silently.
* Tiles without any kept box are background tiles. Per split, at most
  ``floor(background_ratio x tiles with objects)`` of them are kept, chosen by a hash of
  (seed, tile key); a frame none of whose tiles is kept is reported (rule
  ``tile-background-ratio``).
* Tile pixels are upright (EXIF orientation applied), written under ``work_uri`` as
  ``<source key without extension>__x<X>_y<Y>.<ext>``: JPEG quality 95, or PNG, as the
  source. Each frame is read and decoded once, inside a pool of ``workers`` threads that
  encode and write its tiles: memory holds at most ``workers`` decoded frames.
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image, ImageOps

from tasks.retrying import io_task
from tasks.storage import Store, join
from tasks.tables import STATUS_OK, STATUS_QUARANTINED, Problem

log = logging.getLogger(__name__)

DEFAULT_BACKGROUND_RATIO = 0.1
TILE_COLUMNS = ["tile_of_key", "tile_x", "tile_y"]
# columns of a tile row in the images table
TILE_ROW_COLUMNS = [
    "key", "uri", "bytes", "etag", "width", "height", "orientation", "format", "mode",
    "decodes", "sha256", "status", "reason", "split", "group", *TILE_COLUMNS,
]  # fmt: skip
_JPEG_QUALITY = 95
_ORIENTATION_TAG = 0x0112
_EPS = 1e-9


@dataclass(frozen=True)
class Tile:
    """One planned tile: its window on the upright frame (px) and where it goes."""

    frame_key: str
    key: str
    x: int
    y: int
    width: int
    height: int
    split: str | None
    group: str | None
    has_objects: bool


# -- geometry --------------------------------------------------------------------------


def tile_origins(length_px: int, tile_px: int, overlap: float) -> list[int]:
    """Window starts along one axis; the last is shifted inward to end at ``length_px``."""
    if length_px <= tile_px:
        return [0]
    stride = max(1, int(tile_px * (1 - overlap)))
    count = math.ceil((length_px - tile_px) / stride) + 1
    return list(dict.fromkeys(min(i * stride, length_px - tile_px) for i in range(count)))


def tile_windows(
    width_px: int, height_px: int, size: int, overlap: float
) -> list[tuple[int, int, int, int]]:
    """``(x, y, width, height)`` px of every tile of a frame, row by row."""
    tile_w, tile_h = min(size, width_px), min(size, height_px)
    return [
        (x, y, tile_w, tile_h)
        for y in tile_origins(height_px, tile_h, overlap)
        for x in tile_origins(width_px, tile_w, overlap)
    ]


def tile_key(frame_key: str, x: int, y: int) -> str:
    """``dir/name.jpg`` -> ``dir/name__x<X>_y<Y>.jpg``."""
    stem, dot, ext = frame_key.rpartition(".")
    return f"{stem}__x{x}_y{y}.{ext}" if dot else f"{frame_key}__x{x}_y{y}"


def _check_parameters(size: int, overlap: float, min_area: float, background_ratio: float) -> None:
    if size < 32:
        raise ValueError(f"tile size must be at least 32 px, got {size}")
    if not 0 <= overlap < 1:
        raise ValueError(f"tile overlap must be in [0, 1), got {overlap}")
    if not 0 < min_area <= 1:
        raise ValueError(f"tile min_area must be in (0, 1], got {min_area}")
    if not background_ratio >= 0:
        raise ValueError(f"tile background_ratio must be >= 0, got {background_ratio}")


# -- boxes -----------------------------------------------------------------------------


def _box_where(box: pd.Series, frame_uri: str, position: int) -> str:
    source_uri, line = box.get("source_uri"), box.get("source_line")
    if isinstance(source_uri, str) and source_uri and pd.notna(line):
        return f"{source_uri}:{line}"
    return f"{frame_uri}#box{position}"


def _frame_xyxy_px(frame_boxes: pd.DataFrame, width_px: int, height_px: int) -> np.ndarray:
    xc, yc = frame_boxes["x_center"].to_numpy(float), frame_boxes["y_center"].to_numpy(float)
    w, h = frame_boxes["width"].to_numpy(float), frame_boxes["height"].to_numpy(float)
    return np.stack(
        [(xc - w / 2) * width_px, (yc - h / 2) * height_px, (xc + w / 2) * width_px,
         (yc + h / 2) * height_px],
        axis=1,
    )  # fmt: skip


def _clip_to_windows(
    xyxy_px: np.ndarray, windows: list[tuple[int, int, int, int]]
) -> tuple[np.ndarray, np.ndarray]:
    """Clipped boxes (boxes x windows x 4, px) and the share of each box's area kept."""
    win = np.array([[x, y, x + w, y + h] for x, y, w, h in windows], dtype=float)
    lo = np.maximum(xyxy_px[:, None, :2], win[None, :, :2])
    hi = np.minimum(xyxy_px[:, None, 2:], win[None, :, 2:])
    extent = np.clip(hi - lo, 0, None)
    box_area = (xyxy_px[:, 2] - xyxy_px[:, 0]) * (xyxy_px[:, 3] - xyxy_px[:, 1])
    with np.errstate(divide="ignore", invalid="ignore"):
        share = extent[..., 0] * extent[..., 1] / box_area[:, None]
    return np.concatenate([lo, hi], axis=2), np.nan_to_num(share)


def _tile_box_rows(
    frame_boxes: pd.DataFrame, clipped: np.ndarray, keep: np.ndarray, tiles: list[Tile]
) -> pd.DataFrame:
    box_index, window_index = np.nonzero(keep)
    rows = frame_boxes.iloc[box_index].reset_index(drop=True)
    xyxy = clipped[box_index, window_index]
    origin = np.array([[tiles[w].x, tiles[w].y] for w in window_index], dtype=float)
    size = np.array([[tiles[w].width, tiles[w].height] for w in window_index], dtype=float)
    origin, size = origin.reshape(-1, 2), size.reshape(-1, 2)
    return rows.assign(
        image_key=[tiles[w].key for w in window_index],
        x_center=((xyxy[:, 0] + xyxy[:, 2]) / 2 - origin[:, 0]) / size[:, 0],
        y_center=((xyxy[:, 1] + xyxy[:, 3]) / 2 - origin[:, 1]) / size[:, 1],
        width=(xyxy[:, 2] - xyxy[:, 0]) / size[:, 0],
        height=(xyxy[:, 3] - xyxy[:, 1]) / size[:, 1],
    )


def _fragment_problems(
    frame: pd.Series,
    frame_boxes: pd.DataFrame,
    *,
    share: np.ndarray,
    keep: np.ndarray,
    tiles: list[Tile],
    min_area: float,
) -> list[Problem]:
    problems = []
    for b, w in zip(*np.nonzero((share > 0) & ~keep), strict=True):
        box = frame_boxes.iloc[b]
        elsewhere = int(keep[b].sum())
        problems.append(
            Problem(
                where=_box_where(box, str(frame["uri"]), int(b)),
                rule="tile-min-area",
                message=(
                    f"box of class {box['class_name']!r} keeps {share[b, w]:.1%} of its area "
                    f"in tile {tiles[w].key}, under the tile min area {min_area:.0%}: left "
                    f"out of that tile (kept in {elsewhere} other tile(s))"
                ),
                image_key=tiles[w].key,
                kind="box",
            )
        )
    return problems


def _plan_frame(
    frame: pd.Series, frame_boxes: pd.DataFrame, size: int, overlap: float, min_area: float
) -> tuple[list[Tile], pd.DataFrame, list[Problem]]:
    width_px, height_px = int(frame["width"]), int(frame["height"])
    windows = tile_windows(width_px, height_px, size, overlap)
    xyxy_px = _frame_xyxy_px(frame_boxes, width_px, height_px).reshape(-1, 4)
    clipped, share = _clip_to_windows(xyxy_px, windows)
    keep = share >= min_area - _EPS
    tiles = [
        Tile(
            frame_key=str(frame["key"]),
            key=tile_key(str(frame["key"]), x, y),
            x=x,
            y=y,
            width=w,
            height=h,
            split=frame.get("split"),
            group=frame.get("group"),
            has_objects=bool(keep[:, i].any()),
        )
        for i, (x, y, w, h) in enumerate(windows)
    ]
    tile_boxes = _tile_box_rows(frame_boxes, clipped, keep, tiles)
    return (
        tiles,
        tile_boxes,
        _fragment_problems(
            frame, frame_boxes, share=share, keep=keep, tiles=tiles, min_area=min_area
        ),
    )


def _keep_background(tiles: list[Tile], ratio: float, seed: int) -> set[str]:
    """Keys of the tiles kept: all with objects, and per split a seeded sample of the rest."""
    kept = {t.key for t in tiles if t.has_objects}
    for split in dict.fromkeys(t.split for t in tiles):
        mine = [t for t in tiles if t.split == split]
        budget = math.floor(ratio * sum(t.has_objects for t in mine) + _EPS)
        background = sorted(
            (t for t in mine if not t.has_objects),
            key=lambda t: hashlib.sha256(f"{seed}\x1f{t.key}".encode()).digest(),
        )
        kept.update(t.key for t in background[:budget])
    return kept


# -- pixels ----------------------------------------------------------------------------


def _encode(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    if fmt == "JPEG":
        if image.mode not in ("RGB", "L", "CMYK"):
            image = image.convert("RGB")
        image.save(buffer, format="JPEG", quality=_JPEG_QUALITY)
    else:
        image.save(buffer, format="PNG")
    return buffer.getvalue()


def _open_upright(data: bytes) -> Image.Image:
    """The decoded frame as displayed; no pixel copy when it is already upright."""
    opened = Image.open(io.BytesIO(data))
    if opened.getexif().get(_ORIENTATION_TAG, 1) in (0, 1):
        opened.load()
        return opened
    with opened:
        upright = ImageOps.exif_transpose(opened)
    upright.format = opened.format
    return upright


def _render_frame(
    frame: dict[str, Any], tiles: list[Tile], store: Store, work_uri: str
) -> list[dict[str, Any]]:
    """Read and decode one frame, write its tiles; one row per tile written."""
    with _open_upright(store.read_bytes(frame["uri"])) as upright:
        return _write_tiles(upright, frame, tiles, store, work_uri)


def _write_tiles(
    upright: Image.Image, frame: dict[str, Any], tiles: list[Tile], store: Store, work_uri: str
) -> list[dict[str, Any]]:
    fmt = "PNG" if upright.format == "PNG" else "JPEG"
    if upright.size != (int(frame["width"]), int(frame["height"])):
        raise ValueError(
            f"decoded upright size {upright.size[0]}x{upright.size[1]} differs from the "
            f"images table's {int(frame['width'])}x{int(frame['height'])}"
        )
    rows = []
    for tile in tiles:
        data = _encode(
            upright.crop((tile.x, tile.y, tile.x + tile.width, tile.y + tile.height)), fmt
        )
        uri = join(work_uri, tile.key)
        store.write_bytes(uri, data, content_type=f"image/{fmt.lower()}")
        rows.append(
            {"key": tile.key, "uri": uri, "bytes": len(data), "etag": None,
             "width": tile.width, "height": tile.height, "orientation": 1, "format": fmt,
             "mode": upright.mode, "decodes": True, "sha256": hashlib.sha256(data).hexdigest(),
             "status": STATUS_OK, "reason": None, "split": tile.split, "group": tile.group,
             "tile_of_key": tile.frame_key, "tile_x": tile.x, "tile_y": tile.y}
        )  # fmt: skip
    return rows


def _render_all(
    frames: pd.DataFrame, tiles: list[Tile], store: Store, work_uri: str, workers: int
) -> tuple[dict[str, list[dict[str, Any]]], list[Problem]]:
    """Tile rows per frame key, and a problem for each frame that could not be tiled."""
    by_frame: dict[str, list[Tile]] = {}
    for tile in tiles:
        by_frame.setdefault(tile.frame_key, []).append(tile)
    records = frames.to_dict("records")

    def render(frame: dict[str, Any]) -> list[dict[str, Any]] | Problem:
        try:
            return _render_frame(frame, by_frame.get(frame["key"], []), store, work_uri)
        except (OSError, ValueError, Image.DecompressionBombError) as error:
            return Problem(str(frame["uri"]), "tile-decode", f"cannot tile: {error}",
                           image_key=str(frame["key"]), kind="image")  # fmt: skip

    rendered: dict[str, list[dict[str, Any]]] = {}
    problems: list[Problem] = []
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for frame, result in zip(records, pool.map(render, records), strict=True):
            if isinstance(result, Problem):
                problems.append(result)
            else:
                rendered[frame["key"]] = result
    return rendered, problems


def _assemble(
    images: pd.DataFrame,
    replaced: set[str],
    failed: dict[str, str],
    rendered: dict[str, list[dict[str, Any]]],
) -> pd.DataFrame:
    """Rows not tiled as they were (failed frames quarantined), tiles in their frame's place."""
    kept = images[~images["key"].isin(replaced)]
    is_failed = kept["key"].isin(failed)
    reason = kept["reason"] if "reason" in kept else pd.Series(None, index=kept.index)
    kept = kept.assign(
        status=kept["status"].where(~is_failed, STATUS_QUARANTINED),
        reason=reason.where(~is_failed, kept["key"].map(failed)),
    )
    order = {key: position for position, key in enumerate(images["key"])}
    tiles = pd.DataFrame(
        [row for key in rendered for row in rendered[key]], columns=TILE_ROW_COLUMNS
    )
    pieces = [
        kept.assign(_order=kept["key"].map(order), _sub=-1),
        tiles.assign(_order=tiles["tile_of_key"].map(order), _sub=range(len(tiles))),
    ]
    out = pd.concat([p for p in pieces if len(p)] or pieces[:1], ignore_index=True)
    out = out.sort_values(["_order", "_sub"], kind="stable").drop(columns=["_order", "_sub"])
    for column in TILE_COLUMNS:
        if column not in out:
            out[column] = None
    return out.reset_index(drop=True).astype({"tile_x": "Int64", "tile_y": "Int64"})


# -- public ----------------------------------------------------------------------------


def _large_frames(images: pd.DataFrame, size: int) -> pd.DataFrame:
    ok = images[images["status"] == STATUS_OK]
    return ok[(ok["width"] > size) | (ok["height"] > size)]


def _unkept_frame_problems(tiles: list[Tile], kept: set[str], ratio: float) -> list[Problem]:
    frames_kept = {t.frame_key for t in tiles if t.key in kept}
    return [
        Problem(frame_key, "tile-background-ratio",
                f"every tile of this frame is background and none was kept "
                f"(tile background ratio {ratio})", image_key=frame_key, kind="image")
        for frame_key in dict.fromkeys(t.frame_key for t in tiles)
        if frame_key not in frames_kept
    ]  # fmt: skip


def plan_tiles(
    images: pd.DataFrame,
    boxes: pd.DataFrame,
    *,
    size: int,
    overlap: float = 0.2,
    min_area: float = 0.1,
    background_ratio: float = DEFAULT_BACKGROUND_RATIO,
    seed: int = 42,
) -> tuple[list[Tile], pd.DataFrame, list[Problem]]:
    """The tiles to write (background already sampled), their boxes, and the problems.

    Pure geometry on the images table's displayed sizes: no pixel is read.
    """
    _check_parameters(size, overlap, min_area, background_ratio)
    large = _large_frames(images, size)
    mine = boxes[boxes["image_key"].isin(set(large["key"]))]
    boxes_by_frame = {key: frame_boxes for key, frame_boxes in mine.groupby("image_key")}
    tiles: list[Tile] = []
    tile_boxes: list[pd.DataFrame] = [boxes.iloc[:0]]
    problems: list[Problem] = []
    for _, frame in large.iterrows():
        frame_boxes = boxes_by_frame.get(frame["key"], boxes.iloc[:0])
        frame_tiles, frame_tile_boxes, frame_problems = _plan_frame(
            frame, frame_boxes, size, overlap, min_area
        )
        tiles += frame_tiles
        tile_boxes.append(frame_tile_boxes)
        problems += frame_problems
    kept = _keep_background(tiles, background_ratio, seed)
    problems += _unkept_frame_problems(tiles, kept, background_ratio)
    planned_boxes = pd.concat(tile_boxes, ignore_index=True)
    return (
        [t for t in tiles if t.key in kept],
        planned_boxes[planned_boxes["image_key"].isin(kept)].reset_index(drop=True),
        problems,
    )


def tile_images(
    images: pd.DataFrame,
    boxes: pd.DataFrame,
    store: Store,
    work_uri: str,
    *,
    size: int,
    overlap: float = 0.2,
    min_area: float = 0.1,
    background_ratio: float = DEFAULT_BACKGROUND_RATIO,
    seed: int = 42,
    workers: int = 2,
) -> tuple[pd.DataFrame, pd.DataFrame, list[Problem]]:
    """Images and boxes with every frame larger than ``size`` replaced by its tiles.

    Tile rows carry ``key, uri, bytes, width, height, orientation=1, format, mode, sha256,
    status, split, group, tile_of_key, tile_x, tile_y``; other rows are unchanged (with
    empty ``tile_*``). A frame that fails to decode stays as a quarantined row.
    """
    if "split" not in images:
        raise ValueError("tile_images runs after splitting: the images table has no 'split'")
    tiles, tile_boxes, problems = plan_tiles(
        images, boxes, size=size, overlap=overlap, min_area=min_area,
        background_ratio=background_ratio, seed=seed,
    )  # fmt: skip
    large = _large_frames(images, size)
    to_render = large[large["key"].isin({t.frame_key for t in tiles})]
    rendered, failures = _render_all(to_render, tiles, store, work_uri, workers)
    failed = {p.image_key: p.message for p in failures}
    replaced = set(large["key"]) - set(failed)
    out = _assemble(images, replaced, failed, rendered)
    frame_of = {t.key: t.frame_key for t in tiles}
    tile_boxes = tile_boxes[~tile_boxes["image_key"].map(frame_of).isin(failed)]
    untouched = boxes[~boxes["image_key"].isin(replaced)]
    log.info("tiled %d frames into %d tiles", len(rendered), sum(map(len, rendered.values())))
    return out, pd.concat([untouched, tile_boxes], ignore_index=True), problems + failures


def _box_side_px(images: pd.DataFrame, boxes: pd.DataFrame) -> pd.DataFrame:
    """Per box of an ok image: its frame's long side and the box's sqrt(area), in frame px."""
    frames = images[images["status"] == STATUS_OK].set_index("key")[["width", "height"]]
    joined = boxes.merge(
        frames, left_on="image_key", right_index=True, how="inner", suffixes=("", "_frame")
    )
    area_px = joined["width"] * joined["width_frame"] * joined["height"] * joined["height_frame"]
    side_px = np.sqrt(area_px.astype(float))
    return pd.DataFrame(
        {"long_px": joined[["width_frame", "height_frame"]].max(axis=1), "side_px": side_px}
    )


def tile_recommendation(
    images: pd.DataFrame,
    boxes: pd.DataFrame,
    *,
    imgsz: int = 640,
    min_object_px: float = 8.0,
    max_small_share: float = 0.1,
) -> dict[str, Any] | None:
    """A ``--tile`` SIZE to suggest when many objects would be tiny at training size.

    An object's size is ``sqrt(width x height)`` px. Training resizes a frame (or a tile)
    so its long side is ``imgsz``, so an object shrinks by ``imgsz / long side``; tiling at
    SIZE makes that long side ``min(SIZE, frame long side)``. Returns None when at most
    ``max_small_share`` of the objects are under ``min_object_px`` untiled; else the
    largest SIZE among ``imgsz x (4, 3, 2, 1.5, 1)`` that brings the share under it (or
    ``imgsz`` if none does), with the shares before and after.
    """
    sides = _box_side_px(images, boxes)
    if sides.empty:
        return None

    def small_share(tile_px: float) -> float:
        scale = imgsz / np.minimum(tile_px, sides["long_px"])
        return float((sides["side_px"] * scale < min_object_px).mean())

    untiled = small_share(np.inf)
    if untiled <= max_small_share:
        return None
    candidates = [int(imgsz * k) for k in (4, 3, 2, 1.5, 1)]
    size = next((c for c in candidates if small_share(c) <= max_small_share), imgsz)
    return {"size": size, "small_share": untiled, "small_share_tiled": small_share(size),
            "imgsz": imgsz, "min_object_px": min_object_px}  # fmt: skip


tile_task = io_task(tile_images, name="tile-images", retries=2)
