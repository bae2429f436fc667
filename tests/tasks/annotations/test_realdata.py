"""Issue 4 on ../shared/realdata: exact round trips, and CATS from VOC equals CATS from YOLO.

Each test parses the source files with a few independent lines (not the readers), runs
read -> resolve -> class ids -> label text, converts the label text back to pixels on the
image and compares, within 0.5 px, with the source boxes clipped to the image.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tasks.annotations import assign_class_ids, read_annotations, resolve_boxes
from tasks.storage import Store

pytestmark = pytest.mark.realdata

TOLERANCE_PX = 0.5


def _clip(box: tuple[float, float, float, float], w: int, h: int) -> tuple[float, ...]:
    x0, y0, x1, y1 = box
    return (min(max(x0, 0), w), min(max(y0, 0), h), min(max(x1, 0), w), min(max(y1, 0), h))


def _published(ann: Path, src: Path, images_table, to_label_texts, **read_kw):
    images = images_table(src)
    found = read_annotations(str(ann), Store(), **read_kw)
    boxes, covered, problems = resolve_boxes(found, images, source_uri=str(src))
    boxes, names, _ = assign_class_ids(boxes, classes=None, class_map=None, drop_unknown=False)
    return images, boxes, covered, problems, names, to_label_texts(boxes)


def _assert_round_trip(expected, images, texts, names, to_pixels):
    """``expected``: {image key: [(class name, x0, y0, x1, y1)]} before clipping; returns
    the number of boxes clipping changed."""
    sizes = {row.key: (row.width, row.height) for row in images.itertuples()}
    clipped = 0
    assert set(texts) == {k for k, v in expected.items() if v}
    for key, source in expected.items():
        w, h = sizes[key]
        got = [(names[c], *xyxy) for c, *xyxy in to_pixels(texts.get(key, ""), w, h)]
        assert len(got) == len(source), key
        for name, *box in source:
            want = _clip(tuple(box), w, h)
            clipped += want != tuple(box)
            errors = [max(abs(a - b) for a, b in zip(g[1:], want, strict=True)) for g in got]
            same = [i for i, g in enumerate(got) if g[0] == name and errors[i] <= TOLERANCE_PX]
            assert same, (key, name, want)
            got.pop(same[0])
    return clipped


def _voc_expected(folder: Path, key_of) -> dict[str, list]:
    """VOC by regex: corners shifted by -1 (1-based pixel coordinates)."""
    expected = {}
    for xml in sorted(folder.glob("*.xml")):
        text = xml.read_text()
        objects = re.findall(
            r"<name>(.*?)</name>.*?<xmin>(.*?)</xmin>\s*<ymin>(.*?)</ymin>\s*<xmax>(.*?)</xmax>\s*<ymax>(.*?)</ymax>",
            text,
            re.S,
        )
        expected[key_of(xml)] = [(n, *(float(v) - 1 for v in c)) for n, *c in objects]
    return expected


def test_cats_voc_round_trip(realdata, images_table, to_label_texts, to_pixels):
    base = realdata / "cats-drone-vehicles"
    images, boxes, covered, problems, names, texts = _published(
        base / "labels xml", base / "images", images_table, to_label_texts
    )
    expected = _voc_expected(base / "labels xml", lambda xml: xml.stem + ".jpg")
    clipped = _assert_round_trip(expected, images, texts, names, to_pixels)
    # hand check: 28 boxes with xmin=0 and 33 with ymin=0 (58 distinct boxes) reach -1 px
    assert clipped == 58 == int((boxes["clipped_px"] > 0).sum())
    assert len(boxes) == 461 and len(covered) == 100
    # the 50 Drone2 xmls name "Drone2 (N).jpg"; the files are "Drone2_(N).jpg"
    assert sorted({p.rule for p in problems}) == ["image-matched-by-file-stem"]
    assert len(problems) == 50


def test_cats_voc_and_yolo_give_identical_labels(realdata, images_table, to_label_texts):
    base = realdata / "cats-drone-vehicles"
    *_, voc_texts = _published(base / "labels xml", base / "images", images_table, to_label_texts)
    *_, names, yolo_texts = _published(
        base / "labels", base / "images", images_table, to_label_texts, names=["car"]
    )
    assert names == ["car"]
    assert len(voc_texts) == 100
    assert voc_texts == yolo_texts


def test_deepforest_voc_round_trip(realdata, images_table, to_label_texts, to_pixels):
    data = realdata / "deepforest-neon-voc" / "deepforest" / "data"
    images, boxes, _covered, problems, names, texts = _published(
        data, data, images_table, to_label_texts
    )
    expected = _voc_expected(data, lambda xml: xml.stem + ".png")
    assert _assert_round_trip(expected, images, texts, names, to_pixels) == 0
    assert len(boxes) == 61 + 37 + 279 + 574
    # OSBS_029.xml names OSBS_029.tif; only the .png twin is an image droneprep reads
    assert [(p.rule, p.image_key) for p in problems] == [
        ("image-matched-by-file-stem", "OSBS_029.png")
    ]


def test_dota_round_trip(realdata, images_table, to_label_texts, to_pixels):
    base = realdata / "dota-devkit-example" / "example"
    images, boxes, _covered, problems, names, texts = _published(
        base / "labelTxt", base / "images", images_table, to_label_texts
    )
    expected = {}
    for txt in sorted((base / "labelTxt").glob("*.txt")):
        rows = [line.split() for line in txt.read_text().splitlines()[2:] if line.strip()]
        expected[txt.stem + ".png"] = [
            (
                r[8],
                min(map(float, r[0:8:2])),
                min(map(float, r[1:8:2])),
                max(map(float, r[0:8:2])),
                max(map(float, r[1:8:2])),
            )
            for r in rows
        ]
    # hand check: one ship quad in P0706 reaches past the right edge
    assert _assert_round_trip(expected, images, texts, names, to_pixels) == 1
    assert len(boxes) == 536 + 64 and not problems
    assert int((boxes["difficult"] == 1).sum()) == 6


def test_visdrone_round_trip(realdata, images_table, to_label_texts, to_pixels):
    base = realdata / "visdrone-det-val-pair"
    images, boxes, _covered, problems, names, texts = _published(
        base / "annotations", base / "images", images_table, to_label_texts
    )
    names_by_id = [
        "ignored",
        "pedestrian",
        "people",
        "bicycle",
        "car",
        "van",
        "truck",
        "tricycle",
        "awning-tricycle",
        "bus",
        "motor",
        "others",
    ]
    expected = {}
    for txt in sorted((base / "annotations").glob("*.txt")):
        rows = [
            [int(v) for v in line.rstrip(",").split(",")]
            for line in txt.read_text().splitlines()
            if line.strip()
        ]
        expected[txt.stem + ".jpg"] = [
            (names_by_id[r[5]], r[0], r[1], r[0] + r[2], r[1] + r[3])
            for r in rows
            if r[5] not in (0, 11)
        ]
    assert _assert_round_trip(expected, images, texts, names, to_pixels) == 0
    # hand check: 128 + 137 lines, one "0,0,0,0" ignored region in each file, no "others"
    assert len(boxes) == 128 + 137 - 2
    assert [p.rule for p in problems] == ["visdrone-ignored-region"] * 2


def test_coco_round_trip(realdata, images_table, to_label_texts, to_pixels):
    data = realdata / "sahi-terrain-coco" / "tests" / "data" / "coco_utils"
    ann = data / "combined_coco.json"
    images, boxes, covered, problems, names, texts = _published(
        ann, data, images_table, to_label_texts
    )
    doc = json.loads(ann.read_text())
    cats = {c["id"]: c["name"] for c in doc["categories"]}
    files = {i["id"]: i["file_name"] for i in doc["images"]}
    expected: dict[str, list] = {}
    for a in doc["annotations"]:
        x, y, w, h = a["bbox"]
        expected.setdefault(files[a["image_id"]], []).append(
            (cats[a["category_id"]], x, y, x + w, y + h)
        )
    assert _assert_round_trip(expected, images, texts, names, to_pixels) == 0
    assert len(boxes) == 7 + 5 and not problems
    assert names == ["car", "human"]  # big_vehicle is a category without boxes
    assert covered == {"terrain1.jpg", "terrain2.png"}  # small-vehicles1.jpeg: unlabeled


def test_groundtruth_cat_round_trip(realdata, images_table, to_label_texts, to_pixels):
    base = realdata / "sagemaker-gt-cat-labels"
    src = base / "res" / "input-images"
    images, _boxes, covered, problems, names, texts = _published(
        base / "output.manifest", src, images_table, to_label_texts
    )
    expected = {}
    for line in (base / "output.manifest").read_text().splitlines():
        doc = json.loads(line)
        cmap = doc["cat-ground-truth-metadata"]["class-map"]
        expected[doc["source-ref"].rsplit("/", 1)[-1]] = [
            (
                cmap[str(a["class_id"])],
                a["left"],
                a["top"],
                a["left"] + a["width"],
                a["top"] + a["height"],
            )
            for a in doc["cat-ground-truth"]["annotations"]
        ]
    assert _assert_round_trip(expected, images, texts, names, to_pixels) == 0
    # the manifest points at s3://devopstar-ground-truth-input/input-images/: matched by
    # the key below its own prefix; 0001 has no objects: covered, a background image
    assert covered == {"0001.jpg", "0002.jpg", "0003.jpg", "0004.jpg"}
    assert "0001.jpg" not in texts and not problems


def test_groundtruth_aws_sample_manifest(realdata):
    manifest = realdata / "sagemaker-gt-aws-sample-manifest" / "sample_output.manifest"
    found = read_annotations(str(manifest), Store())
    assert len(found.covered) == 100 and len(found.raw_boxes) == 192 and not found.problems
    assert set(found.raw_boxes["class_name"]) == {"Bird"}
    first = found.raw_boxes.iloc[0]
    assert (first["x_min"], first["y_min"]) == (138.8, 164.60000000000002)
    assert first["x_max"] == pytest.approx(138.8 + 443.8) and first["ref_width"] == 680
    confidences = found.raw_boxes["confidence"].astype(float)
    assert confidences.min() == 0.05 and confidences.max() == 0.97
    # min_confidence applies to auto-labeled objects only; these are all human-annotated
    assert len(read_annotations(str(manifest), Store(), min_confidence=0.9).raw_boxes) == 192
