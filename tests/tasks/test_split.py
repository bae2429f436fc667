"""Splits: groups never straddle, near-duplicates never leak, balance holds, frozen is stable.

The generated sequence set is several "flights" of consecutive, slightly shifted frames
cut from one smooth random texture per flight. Its perceptual hashes come from a tiny
dHash in this file (``tasks.profile`` is not on main yet): 9x8 grayscale, one bit per
horizontally adjacent pair.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from tasks.split import (
    SPLIT_TOLERANCE,
    assign_splits,
    balance_violations,
    frozen_splits_task,
    leakage_audit,
    load_frozen_splits,
    parse_group_by,
    read_frozen_splits,
    split_fractions,
    split_summary,
    split_task,
)
from tasks.storage import Store

CLASSES = ("car", "person", "truck")
FRAME_WH = (160, 120)


def _dhash(pixels: np.ndarray) -> str:
    small = Image.fromarray(pixels).convert("L").resize((9, 8), Image.Resampling.BILINEAR)
    values = np.asarray(small, dtype=np.int16)
    bits = (values[:, 1:] > values[:, :-1]).flatten()
    return f"{int(''.join('1' if b else '0' for b in bits), 2):016x}"


def _flights(count: int = 30, frames: int = 12, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Images (one folder per flight) and boxes; class mix and background share vary."""
    rng = np.random.default_rng(seed)
    images, boxes = [], []
    for flight in range(count):
        cells = (rng.random((10, 14, 3)) * 255).astype(np.uint8)
        texture = np.asarray(Image.fromarray(cells).resize((560, 400), Image.Resampling.BICUBIC))
        rates = rng.gamma(1.0, 1.5, len(CLASSES)) * (rng.random(len(CLASSES)) < 0.8)
        for frame in range(frames):
            x, y = 20 + 2 * frame, 20 + frame
            key = f"flight{flight:02d}/frame{frame:03d}.jpg"
            crop = texture[y : y + FRAME_WH[1], x : x + FRAME_WH[0]]
            images.append({"key": key, "uri": f"/raw/{key}", "status": "ok", "phash": _dhash(crop)})
            if rng.random() < 0.15:
                continue  # a background frame
            for class_id, name in enumerate(CLASSES):
                for _ in range(rng.poisson(rates[class_id])):
                    boxes.append(_box(key, name, class_id, rng))
    return pd.DataFrame(images), pd.DataFrame(boxes, columns=list(_box("", "", 0, rng)))


def _box(key: str, name: str, class_id: int, rng: np.random.Generator) -> dict[str, object]:
    x, y = rng.uniform(0.1, 0.9, 2)
    return {"image_key": key, "class_name": name, "class_id": class_id, "x_center": x,
            "y_center": y, "width": 0.05, "height": 0.05}  # fmt: skip


@pytest.fixture(scope="module")
def flights() -> tuple[pd.DataFrame, pd.DataFrame]:
    return _flights()


def _random_split(images: pd.DataFrame, val_fraction: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    split = np.where(rng.random(len(images)) < val_fraction, "val", "train")
    return images.assign(split=split, group=images["key"])


def _straddling_groups(images: pd.DataFrame) -> list[str]:
    per_group = images.dropna(subset=["split"]).groupby("group")["split"].nunique()
    return per_group[per_group > 1].index.tolist()


# -- what issue 5 must show ------------------------------------------------------------


@pytest.mark.parametrize("group_by", ["folder", "none"])
def test_random_split_leaks_and_ours_does_not(
    flights: tuple[pd.DataFrame, pd.DataFrame], group_by: str
) -> None:
    images, boxes = flights
    leaked = leakage_audit(_random_split(images, 0.2, seed=1), near_dup_distance=6)
    assert len(leaked) > 50  # consecutive frames land on both sides

    ours = assign_splits(images, boxes, group_by=group_by, seed=7)

    assert leakage_audit(ours, near_dup_distance=6).empty
    assert _straddling_groups(ours) == []
    if group_by == "folder":  # a flight never straddles; with "none" its clusters may
        assert ours.groupby(ours["key"].str.split("/").str[0])["split"].nunique().max() == 1


@pytest.mark.parametrize(("val_fraction", "test_fraction"), [(0.2, 0.0), (0.15, 0.15)])
def test_per_class_counts_within_the_stated_tolerance(
    flights: tuple[pd.DataFrame, pd.DataFrame], val_fraction: float, test_fraction: float
) -> None:
    images, boxes = flights
    ours = assign_splits(images, boxes, val_fraction=val_fraction, test_fraction=test_fraction)
    fractions = split_fractions(val_fraction, test_fraction)

    assert balance_violations(ours, boxes, fractions).empty
    summary = split_summary(ours, boxes).set_index("quantity")
    for split, fraction in fractions.items():
        assert abs(summary.loc["images", f"share:{split}"] - fraction) <= SPLIT_TOLERANCE
        for name in CLASSES:
            assert abs(summary.loc[f"class:{name}", f"share:{split}"] - fraction) <= 0.08


def test_adding_ten_percent_with_frozen_moves_nothing_and_stays_balanced(
    flights: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    images, boxes = flights
    # the previous dataset lacked the last frame of six flights and two whole flights
    late = images["key"].str.endswith("frame011.jpg") & (images["key"] < "flight06")
    new = late | images["key"].str.startswith(("flight28", "flight29"))
    before = assign_splits(images[~new], boxes, seed=3)
    info = {"images": [{"source_key": k, "split": s, "tile_of": None}
                       for k, s in zip(before["key"], before["split"], strict=True)]}  # fmt: skip
    assert 0.08 <= new.sum() / (~new).sum() <= 0.12

    after = assign_splits(images, boxes, seed=3, frozen=read_frozen_splits(info))

    merged = before[["key", "split"]].merge(after[["key", "split"]], on="key")
    assert len(merged) == len(before)
    assert (merged["split_x"] == merged["split_y"]).all()
    late_frames = after[late.to_numpy()]
    same_flight = after.set_index("key").loc[late_frames["key"].str.replace("011", "000")]
    assert late_frames["split"].tolist() == same_flight["split"].tolist()
    assert balance_violations(after, boxes, split_fractions(0.2)).empty
    assert leakage_audit(after, near_dup_distance=6).empty


def test_a_frozen_split_that_forces_a_leak_is_listed(
    flights: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    images, boxes = flights
    flight = images[images["key"].str.startswith("flight04/")]
    frozen = {flight["key"].iloc[0]: "train", flight["key"].iloc[1]: "val"}

    ours = assign_splits(images, boxes, frozen=frozen)

    audit = leakage_audit(ours, near_dup_distance=6)
    assert set(ours.set_index("key").loc[list(frozen), "split"]) == {"train", "val"}
    assert not audit.empty
    assert set(audit["key_a"]) | set(audit["key_b"]) <= set(flight["key"])
    assert (audit["split_a"] != audit["split_b"]).all()


# -- determinism ---------------------------------------------------------------------


def test_same_inputs_and_seed_give_the_same_split_whatever_the_row_order(
    flights: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    images, boxes = flights
    first = assign_splits(images, boxes, seed=11)
    shuffled = assign_splits(images.sample(frac=1, random_state=5), boxes.iloc[::-1], seed=11)

    assert first.set_index("key")["split"].equals(
        shuffled.set_index("key")["split"].loc[first["key"]]
    )
    assert split_task.fn is assign_splits


def test_inputs_are_not_modified(flights: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    images, boxes = flights
    images_copy, boxes_copy = images.copy(), boxes.copy()
    assign_splits(images, boxes)
    pd.testing.assert_frame_equal(images, images_copy)
    pd.testing.assert_frame_equal(boxes, boxes_copy)


# -- groups --------------------------------------------------------------------------


def _table(keys: list[str], **columns: list[object]) -> pd.DataFrame:
    return pd.DataFrame({"key": keys, "status": ["ok"] * len(keys), **columns})


NO_BOXES = pd.DataFrame(columns=["image_key", "class_name", "class_id"])


def test_regex_groups_by_capture_and_an_unmatched_key_is_its_own_group(
    caplog: pytest.LogCaptureFixture,
) -> None:
    keys = ["cam1_0001.jpg", "cam1_0002.jpg", "cam2_0001.jpg", "cam2_0002.jpg", "other.jpg"]
    with caplog.at_level(logging.WARNING, logger="tasks.split"):
        ours = assign_splits(_table(keys), NO_BOXES, group_by=r"regex:^(cam\d+)_")
    assert ours["group"].tolist() == ["regex:cam1"] * 2 + ["regex:cam2"] * 2 + ["key:other.jpg"]
    assert "1 of 5 keys do not match" in caplog.text


def test_time_windows_per_folder_and_untimed_images_fall_back_to_their_folder() -> None:
    keys = ["a/1.jpg", "a/2.jpg", "a/3.jpg", "b/1.jpg", "b/2.jpg"]
    times = ["2026-05-01T10:01:00", "2026-05-01T10:04:59", "2026-05-01T10:06:00",
             "2026-05-01T10:01:00", None]  # fmt: skip
    ours = assign_splits(_table(keys, exif_datetime=times), NO_BOXES, group_by="time:5")
    assert ours["group"].tolist() == [
        "time:a@2026-05-01T10:00:00", "time:a@2026-05-01T10:00:00",
        "time:a@2026-05-01T10:05:00", "time:b@2026-05-01T10:00:00", "folder:b",
    ]  # fmt: skip


def test_near_duplicates_merge_groups_whatever_group_by_says() -> None:
    keys = ["x/1.jpg", "y/1.jpg", "z/1.jpg", "w/1.jpg"]
    hashes = ["00000000000000ff", "00000000000001ff", "ffffffffffff0000", "0f0f0f0f0f0f0f0f"]
    ours = assign_splits(_table(keys, phash=hashes), NO_BOXES, near_dup_distance=2)
    assert ours["group"].tolist() == ["folder:x", "folder:x", "folder:z", "folder:w"]
    apart = assign_splits(_table(keys, phash=hashes), NO_BOXES, near_dup_distance=None)
    assert apart["group"].nunique() == 4


@pytest.mark.parametrize(
    ("keys", "hashes"),
    [
        (["a.jpg", "b.jpg"], None),
        (["a.jpg", "b.jpg", "c.jpg"], ["0" * 16, "f" * 16, "0" * 15 + "1"]),
        (["f/a.jpg", "f/b.jpg", "f/c.jpg"], ["0" * 16] * 3),  # one cluster: leaks, warned
    ],
)
def test_val_is_never_empty_with_two_or_more_images(
    keys: list[str], hashes: list[str] | None, caplog: pytest.LogCaptureFixture
) -> None:
    table = _table(keys) if hashes is None else _table(keys, phash=hashes)
    with caplog.at_level(logging.WARNING, logger="tasks.split"):
        ours = assign_splits(table, NO_BOXES)
    assert set(ours["split"]) == {"train", "val"}
    assert "one group" in caplog.text


def test_rows_not_ok_get_no_split_and_an_empty_table_works() -> None:
    table = _table(["a/1.jpg", "b/1.jpg", "c/1.jpg"]).assign(status=["ok", "quarantined", "ok"])
    ours = assign_splits(table, NO_BOXES)
    assert ours["split"].tolist()[1] is None and ours["group"].tolist()[1] is None
    assert ours["split"].notna().sum() == 2

    empty = assign_splits(_table([]), NO_BOXES)
    assert empty.empty and {"group", "split"} <= set(empty.columns)


@pytest.mark.parametrize(
    "group_by", ["flight", "regex:(", "regex:no_group", "time:", "time:-3", "time:abc"]
)
def test_bad_group_by_is_refused_before_work(group_by: str) -> None:
    with pytest.raises(ValueError, match="group_by"):
        parse_group_by(group_by)


@pytest.mark.parametrize(("val", "test"), [(0.0, 0.0), (1.0, 0.0), (0.5, 0.5), (0.2, -0.1)])
def test_bad_fractions_are_refused(val: float, test: float) -> None:
    with pytest.raises(ValueError, match="fraction"):
        assign_splits(_table(["a.jpg"]), NO_BOXES, val_fraction=val, test_fraction=test)


# -- frozen splits from a previous dataset_info.json ---------------------------------


def test_read_frozen_splits_maps_tiles_to_their_frame() -> None:
    info = {"images": [
        {"source_key": "a/1.jpg", "split": "train", "tile_of": None},
        {"source_key": "b/2__x0_y0.jpg", "split": "val",
         "tile_of": {"source_key": "b/2.jpg", "x": 0, "y": 0}},
        {"source_key": "b/2__x512_y0.jpg", "split": "val",
         "tile_of": {"source_key": "b/2.jpg", "x": 512, "y": 0}},
    ]}  # fmt: skip
    assert read_frozen_splits(info) == {"a/1.jpg": "train", "b/2.jpg": "val"}


@pytest.mark.parametrize(
    "entries",
    [
        [{"source_key": "a.jpg", "split": "train"}, {"source_key": "a.jpg", "split": "val"}],
        [{"source_key": "a.jpg", "split": "holdout"}],
        [{"split": "train"}],
    ],
)
def test_read_frozen_splits_refuses_inconsistent_entries(entries: list[dict[str, str]]) -> None:
    with pytest.raises(ValueError, match=r"images\["):
        read_frozen_splits({"images": entries})


def test_split_summary_lists_counts_side_by_side() -> None:
    table = _table(["a/1.jpg", "b/1.jpg", "c/1.jpg"]).assign(
        split=["train", "val", "train"], group=["a", "b", "c"]
    )
    boxes = pd.DataFrame(
        {"image_key": ["a/1.jpg", "a/1.jpg", "b/1.jpg"], "class_name": ["car", "person", "car"]}
    )
    summary = split_summary(table, boxes).set_index("quantity")
    assert summary[["train", "val", "total"]].to_dict("index") == {
        "images": {"train": 2, "val": 1, "total": 3},
        "background images": {"train": 1, "val": 0, "total": 1},
        "class:car": {"train": 1, "val": 1, "total": 2},
        "class:person": {"train": 1, "val": 0, "total": 1},
    }


def test_load_frozen_splits_from_a_dataset_folder_or_its_json(tmp_path: Path) -> None:
    info = {"images": [{"source_key": "a/1.jpg", "split": "val", "tile_of": None}]}
    (tmp_path / "ds").mkdir()
    (tmp_path / "ds" / "dataset_info.json").write_text(json.dumps(info))
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "dataset_info.json").write_text("{not json")

    assert load_frozen_splits(str(tmp_path / "ds"), Store()) == {"a/1.jpg": "val"}
    assert frozen_splits_task.fn(str(tmp_path / "ds" / "dataset_info.json"), Store()) == {
        "a/1.jpg": "val"
    }
    with pytest.raises(ValueError, match=r"no dataset_info\.json"):
        load_frozen_splits(str(tmp_path / "missing"), Store())
    with pytest.raises(ValueError, match="not valid JSON"):
        load_frozen_splits(str(tmp_path / "broken"), Store())
