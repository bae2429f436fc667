"""resolve_boxes: matching refs to keys, reference frames, clipping, drops, duplicates."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tasks.annotations import RESOLVED_COLUMNS, AnnotationSet, resolve_boxes
from tasks.annotations.model import SetBuilder
from tasks.annotations.resolve import stored_to_displayed_xyxy
from tasks.tables import Problem

SOURCE = "s3://bucket/raw-data/"


def _images(*rows) -> pd.DataFrame:
    base = {"width": 100, "height": 50, "orientation": 1, "status": "ok"}
    return pd.DataFrame([{**base, "key": key, "uri": SOURCE + key, **extra} for key, extra in rows])


def _set(
    *boxes, uri="s3://bucket/labels/a.manifest", fmt="groundtruth", covered=()
) -> AnnotationSet:
    b = SetBuilder(fmt, uri)
    for ref in covered:
        b.cover(ref, 1)
    for i, (ref, xyxy, *rest) in enumerate(boxes, start=1):
        kw = rest[0] if rest else {}
        b.cover(ref, i, *kw.get("ref_size", (None, None)), fallback_ref=kw.get("fallback_ref"))
        b.box(
            ref,
            i,
            kw.get("name", "car"),
            xyxy,
            units=kw.get("units", "px"),
            ref_size=kw.get("ref_size", (None, None)),
            fallback_ref=kw.get("fallback_ref"),
        )
    return b.build()


@pytest.mark.parametrize(
    ("ref", "keys", "matched"),
    [
        ("s3://bucket/raw-data/sub/a.jpg", ["sub/a.jpg", "a.jpg"], "sub/a.jpg"),  # exact below root
        ("sub/a.jpg", ["sub/a.jpg", "other/a.jpg"], "sub/a.jpg"),  # exact relative key
        (
            "s3://elsewhere/in/sub/a.jpg",
            ["x/sub/a.jpg", "y/a.jpg"],
            "x/sub/a.jpg",
        ),  # longest suffix
        ("s3://elsewhere/in/a.jpg", ["deep/dir/a.jpg", "b.jpg"], "deep/dir/a.jpg"),  # unique name
        ("train/a", ["images/train/a.jpg", "images/val/a.jpg"], "images/train/a.jpg"),  # stem
        ("train/labels/a", ["train/images/a.jpg", "val/images/a.jpg"], "train/images/a.jpg"),
        ("C:\\\\export\\\\a.jpg", ["a.jpg"], "a.jpg"),  # Windows path in a VOC filename
    ],
)
def test_matching_rules(ref, keys, matched):
    images = _images(*[(k, {}) for k in keys])
    boxes, covered, problems = resolve_boxes(_set((ref, (1, 1, 9, 9))), images, source_uri=SOURCE)
    assert boxes["image_key"].tolist() == [matched]
    assert covered == {matched} and not problems


def test_ambiguous_and_missing_refs_are_problems_with_box_counts():
    images = _images(("x/a.jpg", {}), ("y/a.jpg", {}))
    found = _set(
        ("s3://other/a.jpg", (1, 1, 9, 9)),
        ("s3://other/a.jpg", (2, 2, 9, 9)),
        ("gone.jpg", (1, 1, 9, 9)),
    )
    boxes, covered, problems = resolve_boxes(found, images, source_uri=SOURCE)
    assert boxes.empty and covered == set()
    assert [(p.rule, p.where) for p in problems] == [
        ("annotation-image-ambiguous", "s3://bucket/labels/a.manifest:1"),
        ("annotation-image-missing", "s3://bucket/labels/a.manifest:3"),
    ]
    assert "x/a.jpg, y/a.jpg" in problems[0].message and "its 2 boxes" in problems[0].message


def test_fallback_ref_is_used_and_reported():
    found = _set(
        ("Drone2 640cuts/Drone2 (1).jpg", (1, 1, 9, 9), {"fallback_ref": "Drone2_(1)"}), fmt="voc"
    )
    boxes, covered, problems = resolve_boxes(
        found, _images(("img/Drone2_(1).jpg", {})), source_uri=SOURCE
    )
    assert covered == {"img/Drone2_(1).jpg"} and len(boxes) == 1
    assert [p.rule for p in problems] == ["image-matched-by-file-stem"]


def test_reader_problems_come_first():
    found = _set(("a.jpg", (1, 1, 9, 9)))
    found.problems.append(Problem("m:3", "gt-bad-json", "line is not JSON"))
    _, _, problems = resolve_boxes(found, _images(("a.jpg", {})), source_uri=SOURCE)
    assert [p.rule for p in problems] == ["gt-bad-json"]


def test_normalization_clipping_and_drops():
    found = _set(
        ("a.jpg", (10, 5, 30, 25)),  # inside
        ("a.jpg", (-1, 0, 20, 10)),  # 1 px over: clipped, within tolerance
        ("a.jpg", (90, 40, 110, 60)),  # 10 px over: clipped and reported
        ("a.jpg", (120, 10, 130, 20)),  # outside: zero area after clipping
        ("a.jpg", (5, 5, 5, 20)),  # zero width
        ("a.jpg", (5, 5, 5.5, 20)),  # sub-pixel
        ("a.jpg", (10, 5, 30, 25)),  # exact duplicate of the first
        ("a.jpg", (10, 5, 30, 25), {"name": "truck"}),  # same place, other class: kept
    )
    boxes, covered, problems = resolve_boxes(found, _images(("a.jpg", {})), source_uri=SOURCE)
    assert list(boxes.columns) == RESOLVED_COLUMNS
    assert boxes[["x_center", "y_center", "width", "height"]].to_numpy().tolist() == [
        [0.2, 0.3, 0.2, 0.4],
        [0.1, 0.1, 0.2, 0.2],
        [0.95, 0.9, 0.1, 0.2],
        [0.2, 0.3, 0.2, 0.4],
    ]
    assert boxes["clipped_px"].tolist() == [0, 1, 10, 0]
    assert [(p.rule, p.where.rsplit(":", 1)[1], p.kind) for p in problems] == [
        ("box-overshoot", "3", "box"),
        ("box-zero-area", "4", "box"),
        ("box-zero-area", "5", "box"),
        ("box-sub-pixel", "6", "box"),
        ("box-duplicate", "7", "box"),
    ]
    assert covered == {"a.jpg"}


def test_normalized_units_use_the_displayed_size():
    found = _set(("a", (0.25, -0.01, 0.75, 0.5), {"units": "norm"}), fmt="yolo")
    boxes, _, problems = resolve_boxes(
        found, _images(("a.png", {"width": 200, "height": 100})), source_uri=SOURCE
    )
    assert boxes[["x_center", "y_center", "width", "height"]].to_numpy().tolist() == [
        [0.5, 0.25, 0.5, 0.5]
    ]
    assert boxes["clipped_px"].tolist() == [1.0] and not problems


def test_background_and_quarantined_images():
    found = _set(("a.jpg", (1, 1, 9, 9)), covered=["empty.jpg"])
    images = _images(("a.jpg", {"status": "quarantined"}), ("empty.jpg", {}), ("unlabeled.jpg", {}))
    boxes, covered, problems = resolve_boxes(found, images, source_uri=SOURCE)
    assert boxes.empty
    assert covered == {"a.jpg", "empty.jpg"}
    assert [(p.rule, p.image_key, p.kind) for p in problems] == [
        ("image-quarantined", "a.jpg", "box")
    ]


def test_reference_size_mismatch_leaves_the_image_unlabeled():
    found = _set(
        ("a.jpg", (1, 1, 9, 9), {"ref_size": (200, 100)}),
        ("b.jpg", (1, 1, 9, 9), {"ref_size": (100, 50)}),
    )
    boxes, covered, problems = resolve_boxes(
        found, _images(("a.jpg", {}), ("b.jpg", {})), source_uri=SOURCE
    )
    assert boxes["image_key"].tolist() == ["b.jpg"] and covered == {"b.jpg"}
    assert [(p.rule, p.image_key) for p in problems] == [("ref-size-mismatch", "a.jpg")]


@pytest.mark.parametrize("orientation", [5, 6, 7, 8])
def test_stated_stored_size_of_a_rotated_image_rotates_the_boxes(orientation):
    """Stored 100x50 with a 90-degree orientation displays as 50x100. A file stating
    100x50 drew on the stored pixels: its box is rotated like the pixels, and reported."""
    stored = np.zeros((50, 100), dtype=np.uint8)
    stored[10:20, 60:90] = 1  # box x 60..90, y 10..20 on the stored image
    from PIL import Image

    transpose = {
        5: Image.Transpose.TRANSPOSE,
        6: Image.Transpose.ROTATE_270,
        7: Image.Transpose.TRANSVERSE,
        8: Image.Transpose.ROTATE_90,
    }
    shown = np.array(Image.fromarray(stored).transpose(transpose[orientation]))
    ys, xs = np.nonzero(shown)
    want = [
        (xs.min() + xs.max() + 1) / 2 / 50,
        (ys.min() + ys.max() + 1) / 2 / 100,
        (xs.max() + 1 - xs.min()) / 50,
        (ys.max() + 1 - ys.min()) / 100,
    ]
    found = _set(("a.jpg", (60, 10, 90, 20), {"ref_size": (100, 50)}))
    images = _images(("a.jpg", {"width": 50, "height": 100, "orientation": orientation}))
    boxes, covered, problems = resolve_boxes(found, images, source_uri=SOURCE)
    assert boxes[["x_center", "y_center", "width", "height"]].to_numpy().tolist()[
        0
    ] == pytest.approx(want)
    assert [p.rule for p in problems] == ["exif-stored-frame"] and covered == {"a.jpg"}


@pytest.mark.parametrize("orientation", [2, 3, 4])
def test_stored_to_displayed_without_swap_matches_the_pixels(orientation):
    from PIL import Image

    stored = np.zeros((50, 100), dtype=np.uint8)
    stored[10:20, 60:90] = 1
    transpose = {
        2: Image.Transpose.FLIP_LEFT_RIGHT,
        3: Image.Transpose.ROTATE_180,
        4: Image.Transpose.FLIP_TOP_BOTTOM,
    }
    ys, xs = np.nonzero(np.array(Image.fromarray(stored).transpose(transpose[orientation])))
    got = stored_to_displayed_xyxy(
        np.array([[60.0, 10, 90, 20]]), np.array([[100.0, 50]]), np.array([orientation])
    )
    assert got.tolist() == [[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]]


def test_square_rotated_image_is_taken_as_displayed():
    found = _set(("a.jpg", (10, 10, 20, 30), {"ref_size": (50, 50)}))
    images = _images(("a.jpg", {"width": 50, "height": 50, "orientation": 6}))
    boxes, _, problems = resolve_boxes(found, images, source_uri=SOURCE)
    assert boxes[["x_center", "y_center"]].to_numpy().tolist() == [[0.3, 0.4]] and not problems


def test_empty_inputs():
    boxes, covered, problems = resolve_boxes(
        AnnotationSet(), _images(("a.jpg", {})), source_uri=SOURCE
    )
    assert (
        boxes.empty
        and list(boxes.columns) == RESOLVED_COLUMNS
        and covered == set()
        and problems == []
    )


def test_an_image_with_an_unreadable_object_is_left_unlabeled():
    from tasks.annotations.groundtruth import read_groundtruth

    def line(ref, class_ids):
        anns = [{"class_id": c, "left": 1, "top": 1, "width": 5, "height": 5} for c in class_ids]
        meta = {"class-map": {"0": "car"}, "type": "groundtruth/object-detection"}
        return json.dumps({"source-ref": ref, "job": {"annotations": anns}, "job-metadata": meta})

    data = f"{line('s3://in/a.jpg', [0, 7])}\n{line('s3://in/b.jpg', [0])}\n".encode()
    found = read_groundtruth(data, "m.manifest")
    images = _images(("a.jpg", {}), ("b.jpg", {}))
    boxes, covered, problems = resolve_boxes(found, images, source_uri=SOURCE)
    assert boxes["image_key"].tolist() == ["b.jpg"] and covered == {"b.jpg"}
    assert [(p.rule, p.where, p.image_key) for p in problems] == [
        ("gt-class-id-unmapped", "m.manifest:1#annotations[1]", None),
        ("image-labels-incomplete", "m.manifest:1#annotations[1]", "a.jpg"),
    ]
    assert "its 1 other boxes are not published" in problems[1].message
    kept, covered, _ = resolve_boxes(found, images, source_uri=SOURCE, keep_incomplete=True)
    assert kept["image_key"].tolist() == ["a.jpg", "b.jpg"] and covered == {"a.jpg", "b.jpg"}


def test_boxes_on_an_image_of_unknown_size_are_problems():
    found = _set(("a.jpg", (1, 1, 9, 9)))
    images = _images(("a.jpg", {"width": float("nan"), "height": float("nan")}))
    boxes, _, problems = resolve_boxes(found, images, source_uri=SOURCE)
    assert boxes.empty and [p.rule for p in problems] == ["image-size-unknown"]
