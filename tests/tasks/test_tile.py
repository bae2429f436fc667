"""Tiling: full-size overlapping tiles that cover the frame, exact boxes, no silent drops."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from defusedxml import ElementTree
from PIL import Image

from tasks.storage import Store
from tasks.tables import BOX_COLUMNS
from tasks.tile import (
    plan_tiles,
    tile_images,
    tile_key,
    tile_origins,
    tile_recommendation,
    tile_task,
    tile_windows,
)

DEEPFOREST = "deepforest-neon-voc/deepforest/data/2019_YELL_2_528000_4978000_image_crop2"
VISDRONE = "visdrone-det-val-pair"
VISDRONE_STEMS = ("0000001_02999_d_0000005", "0000001_07999_d_0000012")


# -- geometry --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("length", "tile", "overlap", "expected"),
    [
        (640, 640, 0.2, [0]),
        (500, 640, 0.2, [0]),
        (641, 640, 0.2, [0, 1]),
        (1920, 640, 0.2, [0, 512, 1024, 1280]),
        (1080, 640, 0.2, [0, 440]),
        (1280, 640, 0.0, [0, 640]),
        (2299, 640, 0.25, [0, 480, 960, 1440, 1659]),
    ],
)
def test_tile_origins_end_at_the_edge(
    length: int, tile: int, overlap: float, expected: list[int]
) -> None:
    assert tile_origins(length, tile, overlap) == expected


@pytest.mark.parametrize(("width", "height"), [(2299, 2472), (1920, 1080), (641, 3000), (700, 64)])
@pytest.mark.parametrize("overlap", [0.0, 0.2, 0.5])
def test_windows_are_full_size_inside_the_frame_and_cover_it(
    width: int, height: int, overlap: float
) -> None:
    windows = tile_windows(width, height, 640, overlap)
    covered = np.zeros((height, width), dtype=bool)
    for x, y, w, h in windows:
        assert (w, h) == (min(640, width), min(640, height))
        assert 0 <= x <= width - w and 0 <= y <= height - h
        covered[y : y + h, x : x + w] = True
    assert covered.all()


@pytest.mark.parametrize(
    ("key", "expected"),
    [("a/b.jpg", "a/b__x0_y512.jpg"), ("x.y.PNG", "x.y__x0_y512.PNG"), ("noext", "noext__x0_y512")],
)
def test_tile_key(key: str, expected: str) -> None:
    assert tile_key(key, 0, 512) == expected


@pytest.mark.parametrize(
    "parameters",
    [
        {"size": 16},
        {"overlap": 1.0},
        {"overlap": -0.1},
        {"min_area": 0.0},
        {"min_area": 1.5},
        {"background_ratio": -1.0},
    ],
)
def test_bad_parameters_are_refused(parameters: dict[str, float]) -> None:
    images = pd.DataFrame(columns=["key", "status", "width", "height", "split"])
    with pytest.raises(ValueError, match="tile"):
        plan_tiles(images, pd.DataFrame(columns=BOX_COLUMNS), **{"size": 640, **parameters})


# -- real frames -----------------------------------------------------------------------


def _voc_boxes(xml_path: Path, key: str, width: int, height: int) -> list[dict[str, object]]:
    rows = []
    for index, obj in enumerate(ElementTree.parse(xml_path).getroot().iter("object")):
        box = obj.find("bndbox")
        x0, y0, x1, y1 = (float(box.findtext(tag)) for tag in ("xmin", "ymin", "xmax", "ymax"))
        rows.append(_row(key, obj.findtext("name"), (x0, y0, x1, y1), (width, height)))
        rows[-1].update(source_uri=str(xml_path), source_line=f"{xml_path}#object[{index}]")
    return rows


def _visdrone_boxes(txt_path: Path, key: str) -> list[dict[str, object]]:
    rows = []
    for line_no, line in enumerate(txt_path.read_text().splitlines(), start=1):
        x, y, w, h, _score, category = (int(v) for v in line.split(",")[:6])
        if category in (0, 11) or w <= 0 or h <= 0:  # ignored regions, "others"
            continue
        rows.append(_row(key, str(category), (x, y, x + w, y + h), (1920, 1080)))
        rows[-1].update(source_uri=str(txt_path), source_line=f"{txt_path}:{line_no}")
    return rows


def _row(
    key: str, name: str, xyxy_px: tuple[float, ...], size_wh: tuple[int, int]
) -> dict[str, object]:
    x0, y0, x1, y1 = xyxy_px
    w, h = size_wh
    return {
        "image_key": key,
        "class_name": name,
        "class_id": 0,
        "x_center": (x0 + x1) / 2 / w,
        "y_center": (y0 + y1) / 2 / h,
        "width": (x1 - x0) / w,
        "height": (y1 - y0) / h,
    }


def _frame(key: str, uri: Path, width: int, height: int) -> dict[str, object]:
    return {
        "key": key,
        "uri": str(uri),
        "width": width,
        "height": height,
        "orientation": 1,
        "status": "ok",
        "reason": None,
        "split": "train",
        "group": f"folder:{key}",
    }


def _real_frames(realdata: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    frames = [_frame("forest/crop2.png", realdata / f"{DEEPFOREST}.png", 2299, 2472)]
    boxes = _voc_boxes(realdata / f"{DEEPFOREST}.xml", "forest/crop2.png", 2299, 2472)
    for stem in VISDRONE_STEMS:
        key = f"visdrone/{stem}.jpg"
        frames.append(_frame(key, realdata / VISDRONE / "images" / f"{stem}.jpg", 1920, 1080))
        boxes += _visdrone_boxes(realdata / VISDRONE / "annotations" / f"{stem}.txt", key)
    return pd.DataFrame(frames), pd.DataFrame(boxes, columns=BOX_COLUMNS)


def _xyxy_px(boxes: pd.DataFrame, width: int, height: int) -> np.ndarray:
    xc, yc = boxes["x_center"].to_numpy() * width, boxes["y_center"].to_numpy() * height
    w, h = boxes["width"].to_numpy() * width, boxes["height"].to_numpy() * height
    return np.stack([xc - w / 2, yc - h / 2, xc + w / 2, yc + h / 2], axis=1)


def _area(xyxy: np.ndarray) -> np.ndarray:
    return np.clip(xyxy[..., 2] - xyxy[..., 0], 0, None) * np.clip(
        xyxy[..., 3] - xyxy[..., 1], 0, None
    )


@pytest.fixture(scope="module")
def tiled(realdata: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    images, boxes = _real_frames(realdata)
    work = tmp_path_factory.mktemp("tiles")
    out_images, out_boxes, problems = tile_images(
        images,
        boxes,
        Store(),
        str(work),
        size=640,
        overlap=0.2,
        min_area=0.3,
        background_ratio=100.0,
        workers=2,
    )
    return {
        "images": images,
        "boxes": boxes,
        "out_images": out_images,
        "out_boxes": out_boxes,
        "problems": problems,
        "work": work,
    }


@pytest.mark.realdata
@pytest.mark.parametrize(
    "frame_key", ["forest/crop2.png", *(f"visdrone/{s}.jpg" for s in VISDRONE_STEMS)]
)
def test_boxes_in_tiles_are_exact_and_clipping_follows_the_min_area_rule(
    tiled: dict[str, object], frame_key: str
) -> None:
    images, boxes, out_images, out_boxes, problems = (
        tiled[k] for k in ("images", "boxes", "out_images", "out_boxes", "problems")
    )
    frame = images.set_index("key").loc[frame_key]
    source = _xyxy_px(boxes[boxes["image_key"] == frame_key], frame["width"], frame["height"])
    tiles = out_images[out_images["tile_of_key"] == frame_key]
    assert len(tiles) > 1 and frame_key not in set(out_images["key"])
    dropped = {(p.where, p.image_key) for p in problems if p.rule == "tile-min-area"}
    source_where = boxes[boxes["image_key"] == frame_key]
    where = source_where["source_line"].tolist()  # the readers' "file:line" of each box
    checked_inside = 0
    for tile in tiles.itertuples():
        window = np.array(
            [tile.tile_x, tile.tile_y, tile.tile_x + tile.width, tile.tile_y + tile.height]
        )
        found = _xyxy_px(out_boxes[out_boxes["image_key"] == tile.key], tile.width, tile.height)
        found += np.array([tile.tile_x, tile.tile_y] * 2)
        inside = (source[:, :2] >= window[:2]).all(axis=1) & (source[:, 2:] <= window[2:]).all(
            axis=1
        )
        for box in source[inside]:  # every box fully inside appears exactly
            assert (np.abs(found - box).max(axis=1) <= 0.5).any()
            checked_inside += 1
        clipped = np.concatenate(
            [np.maximum(source[:, :2], window[:2]), np.minimum(source[:, 2:], window[2:])], axis=1
        )
        share = _area(clipped) / _area(source)
        for i in np.nonzero((share > 0) & ~inside)[0]:
            present = (np.abs(found - clipped[i]).max(axis=1) <= 0.5).any()
            assert present == (share[i] >= 0.3), (tile.key, share[i])
            assert ((where[i], tile.key) in dropped) == (share[i] < 0.3)
        assert len(found) == int((share >= 0.3).sum())
    assert checked_inside >= len(source)
    mine = out_boxes[out_boxes["image_key"].isin(set(tiles["key"]))]
    xyxy_n = _xyxy_px(mine, 1, 1)  # normalized corners: every tile box lies inside its tile
    assert (xyxy_n >= -1e-9).all() and (xyxy_n <= 1 + 1e-9).all()


@pytest.mark.realdata
@pytest.mark.parametrize(
    "frame_key", ["forest/crop2.png", *(f"visdrone/{s}.jpg" for s in VISDRONE_STEMS)]
)
def test_tiles_cover_the_frame_and_hold_its_pixels(
    tiled: dict[str, object], frame_key: str
) -> None:
    images, out_images = tiled["images"], tiled["out_images"]
    frame = images.set_index("key").loc[frame_key]
    with Image.open(frame["uri"]) as opened:
        source = np.asarray(opened.convert("RGB"), dtype=np.int16)
    covered = np.zeros(source.shape[:2], dtype=bool)
    tiles = out_images[out_images["tile_of_key"] == frame_key]
    for tile in tiles.itertuples():
        data = Path(tile.uri).read_bytes()
        assert tile.sha256 == hashlib.sha256(data).hexdigest()
        with Image.open(io.BytesIO(data)) as opened:
            assert (
                opened.size
                == (tile.width, tile.height)
                == (640, 640 if frame["height"] > 640 else frame["height"])
            )
            assert opened.format == tile.format == ("PNG" if frame_key.endswith(".png") else "JPEG")
            pixels = np.asarray(opened.convert("RGB"), dtype=np.int16)
        expected = source[
            tile.tile_y : tile.tile_y + tile.height, tile.tile_x : tile.tile_x + tile.width
        ]
        tolerance = 0 if tile.format == "PNG" else 6  # JPEG q95 re-encoding
        assert np.abs(pixels - expected).mean() <= tolerance
        assert (tile.split, tile.group, tile.orientation) == ("train", f"folder:{frame_key}", 1)
        covered[tile.tile_y : tile.tile_y + tile.height, tile.tile_x : tile.tile_x + tile.width] = (
            True
        )
    assert covered.all()


# -- generated frames ------------------------------------------------------------------


def _quadrants_jpeg(width: int, height: int, orientation: int) -> bytes:
    """Stored pixels whose *displayed* (upright) version has four colour quadrants."""
    upright = np.zeros((height, width, 3), dtype=np.uint8)
    upright[: height // 2, : width // 2] = (250, 0, 0)
    upright[: height // 2, width // 2 :] = (0, 250, 0)
    upright[height // 2 :, : width // 2] = (0, 0, 250)
    upright[height // 2 :, width // 2 :] = (250, 250, 250)
    image = Image.fromarray(upright)
    if orientation == 6:  # displayed = stored rotated 90 degrees clockwise
        image = image.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=95, exif=exif)
    return buffer.getvalue()


def _generated(
    tmp_path: Path, frames: dict[str, tuple[bytes, int, int]], boxes: list[dict[str, object]]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    rows = []
    for key, (data, width, height) in frames.items():
        path = tmp_path / "raw" / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        rows.append(_frame(key, path, width, height))
    return pd.DataFrame(rows), pd.DataFrame(boxes, columns=BOX_COLUMNS)


def test_tiles_are_upright_when_the_frame_has_an_exif_orientation(tmp_path: Path) -> None:
    # displayed 800x600; stored 600x800 with orientation 6
    images, boxes = _generated(
        tmp_path,
        {"f/rot.jpg": (_quadrants_jpeg(800, 600, 6), 800, 600)},
        [_row("f/rot.jpg", "car", (100, 100, 200, 200), (800, 600))],
    )
    out, out_boxes, _ = tile_images(
        images,
        boxes,
        Store(),
        str(tmp_path / "work"),
        size=400,
        overlap=0.0,
        background_ratio=10.0,
    )
    first = out.set_index("key").loc["f/rot__x0_y0.jpg"]
    with Image.open(first["uri"]) as opened:
        assert opened.size == (400, 400)
        assert opened.getexif().get(0x0112) in (None, 1)
        red, green, blue = np.asarray(opened)[100, 100]
    assert red > 200 and green < 50 and blue < 50  # the upright top-left quadrant
    box = out_boxes[out_boxes["image_key"] == "f/rot__x0_y0.jpg"].iloc[0]
    assert box[["x_center", "y_center", "width", "height"]].tolist() == pytest.approx(
        [150 / 400, 150 / 400, 0.25, 0.25]
    )
    assert set(out["orientation"]) == {1}


def test_small_frames_and_rows_not_ok_pass_through_unchanged(tmp_path: Path) -> None:
    data = _quadrants_jpeg(300, 200, 1)
    images, boxes = _generated(
        tmp_path,
        {"small.jpg": (data, 300, 200), "bad.jpg": (data, 3000, 2000)},
        [
            _row("small.jpg", "car", (10, 10, 50, 50), (300, 200)),
            _row("bad.jpg", "car", (10, 10, 50, 50), (3000, 2000)),
        ],
    )
    images.loc[1, ["status", "reason", "split"]] = ["quarantined", "truncated", None]

    out, out_boxes, problems = tile_images(images, boxes, Store(), str(tmp_path / "w"), size=640)

    assert out["key"].tolist() == ["small.jpg", "bad.jpg"]
    pd.testing.assert_frame_equal(out[images.columns], images, check_dtype=False)
    assert out["tile_of_key"].isna().all() and out["tile_x"].isna().all()
    pd.testing.assert_frame_equal(out_boxes, boxes)
    assert problems == []
    assert not (tmp_path / "w").exists()


def test_background_tiles_are_sampled_by_ratio_and_a_dropped_frame_is_reported(
    tmp_path: Path,
) -> None:
    data = _quadrants_jpeg(1280, 1280, 1)
    frames = {f"f{i}.jpg": (data, 1280, 1280) for i in range(4)}
    boxes = [_row(f"f{i}.jpg", "car", (10, 10, 60, 60), (1280, 1280)) for i in range(3)]
    images, boxes_frame = _generated(tmp_path, frames, boxes)
    kwargs = {"size": 512, "overlap": 0.0, "background_ratio": 1.0, "seed": 3}

    tiles, _, problems = plan_tiles(images, boxes_frame, **kwargs)
    again, _, _ = plan_tiles(images.iloc[::-1], boxes_frame, **kwargs)

    with_objects = [t for t in tiles if t.has_objects]
    assert len(with_objects) == 3  # one box, top-left tile, in f0..f2
    assert len(tiles) - len(with_objects) == 3  # floor(1.0 x 3) background tiles of 33
    assert {t.key for t in tiles} == {t.key for t in again}
    reported = {p.image_key for p in problems if p.rule == "tile-background-ratio"}
    kept_frames = {t.frame_key for t in tiles}
    assert reported == {f"f{i}.jpg" for i in range(4)} - kept_frames


def test_a_frame_that_cannot_be_decoded_is_quarantined_and_the_rest_goes_on(
    tmp_path: Path,
) -> None:
    good = _quadrants_jpeg(1000, 700, 1)
    images, boxes = _generated(
        tmp_path,
        {"good.jpg": (good, 1000, 700), "cut.jpg": (good[:3000], 1000, 700)},
        [_row(k, "car", (10, 10, 60, 60), (1000, 700)) for k in ("good.jpg", "cut.jpg")],
    )

    out, out_boxes, problems = tile_images(
        images, boxes, Store(), str(tmp_path / "w"), size=640, background_ratio=10.0
    )

    cut = out[out["key"] == "cut.jpg"].iloc[0]
    assert cut["status"] == "quarantined" and "cannot tile" in cut["reason"]
    assert [p.rule for p in problems] == ["tile-decode"] and problems[0].image_key == "cut.jpg"
    assert len(out[out["tile_of_key"] == "good.jpg"]) == 4
    assert set(out_boxes["image_key"]) == {"cut.jpg", "good__x0_y0.jpg"}


def test_tiles_are_written_to_s3(s3: object, tmp_path: Path) -> None:
    data = _quadrants_jpeg(900, 500, 1)
    s3.put_object(Bucket="bucket", Key="raw-data/a/f.jpg", Body=data)
    images = pd.DataFrame([_frame("a/f.jpg", Path("x"), 900, 500)]).assign(
        uri="s3://bucket/raw-data/a/f.jpg"
    )
    boxes = pd.DataFrame([_row("a/f.jpg", "car", (700, 100, 800, 200), (900, 500))])
    store = Store().use_client(s3)

    out, out_boxes, _ = tile_task.fn(
        images, boxes, store, "s3://bucket/work/tiles", size=640, background_ratio=0.0
    )

    assert out["uri"].tolist() == ["s3://bucket/work/tiles/a/f__x260_y0.jpg"]
    body = s3.get_object(Bucket="bucket", Key="work/tiles/a/f__x260_y0.jpg")["Body"].read()
    assert hashlib.sha256(body).hexdigest() == out["sha256"].iloc[0]
    assert out_boxes["x_center"].iloc[0] == pytest.approx((750 - 260) / 640)


# -- recommendation --------------------------------------------------------------------


@pytest.mark.realdata
def test_visdrone_gets_a_tile_recommendation_that_fixes_most_tiny_objects(
    realdata: Path,
) -> None:
    images, boxes = _real_frames(realdata)
    visdrone = images[images["key"].str.startswith("visdrone/")]

    advice = tile_recommendation(visdrone, boxes, imgsz=640)

    assert advice is not None and advice["size"] in (640, 960, 1280)
    assert advice["small_share"] > 0.1 >= advice["small_share_tiled"] or advice["size"] == 640
    assert advice["small_share_tiled"] < advice["small_share"]


@pytest.mark.parametrize(
    ("frame_wh", "box_px", "expected"),
    [
        ((640, 480), 10, None),  # no resize at 640: 10 px stays 10 px
        ((4000, 3000), 25, 1920),  # 4 px untiled, 6.25 px at 2560 tiles, 8.3 px at 1920
        ((4000, 3000), 200, None),  # 32 px untiled
        ((4000, 3000), 10, 640),  # even 640 tiles leave it under 8 px: the best there is
    ],
)
def test_tile_recommendation_picks_the_largest_size_that_is_enough(
    frame_wh: tuple[int, int], box_px: int, expected: int | None
) -> None:
    width, height = frame_wh
    images = pd.DataFrame([{"key": "f.jpg", "status": "ok", "width": width, "height": height}])
    boxes = pd.DataFrame([_row("f.jpg", "car", (0, 0, box_px, box_px), (width, height))] * 3)
    advice = tile_recommendation(images, boxes, imgsz=640)
    assert (advice and advice["size"]) == expected
