"""Property tests (bounded): label lines round-trip, readers never raise on arbitrary
bytes and account for every line, resolve accounts for every box and stays in [0, 1]."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tasks.annotations.coco import read_coco
from tasks.annotations.dota import read_dota
from tasks.annotations.groundtruth import read_groundtruth
from tasks.annotations.model import SetBuilder
from tasks.annotations.resolve import resolve_boxes
from tasks.annotations.visdrone import read_visdrone
from tasks.annotations.voc import read_voc
from tasks.annotations.yolo import read_yolo
from tasks.layout import format_label_line, parse_label_line

BOUNDED = settings(max_examples=60, deadline=None, derandomize=True)
unit = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


@BOUNDED
@given(st.integers(min_value=0, max_value=999), unit, unit, unit, unit)
def test_label_line_round_trip(class_id, xc, yc, w, h):
    parsed = parse_label_line(format_label_line(class_id, xc, yc, w, h), "x:1")
    assert parsed[0] == class_id
    assert all(abs(a - b) <= 5e-7 for a, b in zip(parsed[1:], (xc, yc, w, h), strict=True))


line_bytes = st.lists(
    st.one_of(
        st.binary(max_size=40),
        st.lists(
            st.sampled_from(["0", "1", "-2", "0.5", "nan", "inf", "x", "1e9", ""]), max_size=9
        ).map(lambda f: " ".join(f).encode()),
        st.lists(st.sampled_from(["0", "1", "4", "11", "-3", "2.5", "a", ""]), max_size=9).map(
            lambda f: ",".join(f).encode()
        ),
    ),
    max_size=8,
)


def _non_blank(line: bytes) -> bool:
    """What a reader must account for: undecodable, or text that is not all whitespace."""
    try:
        return bool(line.decode("utf-8").strip())
    except UnicodeDecodeError:
        return True


@BOUNDED
@given(line_bytes)
def test_per_image_readers_account_for_every_line(lines):
    data = b"\n".join(line.replace(b"\n", b" ") for line in lines)
    non_blank = sum(
        1 for line in data.removeprefix(b"\xef\xbb\xbf").split(b"\n") if _non_blank(line)
    )
    for found in (
        read_yolo(data, "f.txt", image_ref="a", names=["car", "bus"]),
        read_visdrone(data, "f.txt", image_ref="a"),
    ):
        assert len(found.raw_boxes) + len(found.problems) == non_blank
        assert found.covered["image_ref"].tolist() == ["a"]
    dota = read_dota(data, "f.txt", image_ref="a")
    assert len(dota.raw_boxes) + len(dota.problems) <= non_blank


@BOUNDED
@given(st.binary(max_size=300))
def test_whole_file_readers_never_raise(data):
    for found in (
        read_groundtruth(data, "m"),
        read_coco(data, "c.json"),
        read_voc(data, "v.xml", fallback_ref="v"),
    ):
        assert all(p.where.startswith(("m", "c.json", "v.xml")) for p in found.problems)


coord = st.floats(min_value=-50, max_value=150, allow_nan=False)


@settings(max_examples=30, deadline=None, derandomize=True)
@given(st.lists(st.tuples(coord, coord, coord, coord), max_size=12))
def test_resolve_accounts_for_every_box_and_stays_in_the_image(corners):
    b = SetBuilder("voc", "v.xml")
    b.cover("a.jpg", "annotation")
    added = sum(
        b.box("a.jpg", f"object[{i}]", "car", (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)))
        for i, (x0, y0, x1, y1) in enumerate(corners)
    )
    images = pd.DataFrame(
        [{"key": "a.jpg", "width": 100, "height": 60, "orientation": 1, "status": "ok"}]
    )
    boxes, covered, problems = resolve_boxes(b.build(), images, source_uri="/data")
    dropped = [p for p in problems if p.rule in ("box-zero-area", "box-sub-pixel", "box-duplicate")]
    assert len(boxes) + len(dropped) == added and covered == {"a.jpg"}
    for column in ("x_center", "y_center", "width", "height"):
        assert boxes[column].between(0, 1).all()
    assert ((boxes["x_center"] - boxes["width"] / 2) >= -1e-9).all()
    assert ((boxes["x_center"] + boxes["width"] / 2) <= 1 + 1e-9).all()


@pytest.mark.parametrize(
    "wrapper",
    ["read_annotations_task", "resolve_boxes_task", "assign_class_ids_task"],
)
def test_task_wrappers_are_thin(wrapper):
    import tasks.annotations as api

    assert getattr(api, wrapper).fn is getattr(api, wrapper.removesuffix("_task"))


json_value = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.floats(-10, 10) | st.text(max_size=4),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)
small = st.sampled_from([0, 1, 2, "0", 5.5]) | json_value


def _gt_doc() -> st.SearchStrategy:
    annotation = st.fixed_dictionaries(
        {k: small for k in ("class_id", "left", "top", "width", "height")}
    )
    meta = st.fixed_dictionaries(
        {
            "class-map": st.just({"0": "car", "1": "bus"}) | json_value,
            "type": st.sampled_from(
                ["groundtruth/object-detection", "groundtruth/label-verification"]
            )
            | json_value,
            "objects": st.lists(st.fixed_dictionaries({"confidence": small}), max_size=3)
            | json_value,
            "human-annotated": st.sampled_from(["yes", "no"]) | json_value,
            "creation-date": json_value,
            "class-name": json_value,
        }
    )
    value = st.fixed_dictionaries(
        {"annotations": st.lists(annotation, max_size=3) | json_value, "image_size": json_value}
    )
    return st.fixed_dictionaries(
        {
            "source-ref": st.just("s3://b/a.jpg") | json_value,
            "job": value | json_value,
            "job-metadata": meta | json_value,
        }
    )


def _coco_doc() -> st.SearchStrategy:
    image = st.fixed_dictionaries(
        {"id": small, "file_name": st.just("a.jpg") | json_value, "width": small, "height": small}
    )
    category = st.fixed_dictionaries({"id": small, "name": st.just("car") | json_value})
    annotation = st.fixed_dictionaries(
        {
            "id": small,
            "image_id": small,
            "category_id": small,
            "bbox": st.lists(small, max_size=5) | json_value,
            "iscrowd": small,
        }
    )
    return st.fixed_dictionaries(
        {
            "images": st.lists(image, max_size=3),
            "categories": st.lists(category, max_size=3) | json_value,
            "annotations": st.lists(annotation, max_size=4),
        }
    )


@BOUNDED
@given(st.lists(_gt_doc(), max_size=3), _coco_doc())
def test_json_readers_never_raise_on_odd_values(lines, coco):
    manifest = "\n".join(json.dumps(line) for line in lines).encode()
    for found in (read_groundtruth(manifest, "m"), read_coco(json.dumps(coco).encode(), "c.json")):
        assert found.raw_boxes["x_max"].ge(found.raw_boxes["x_min"]).all()
