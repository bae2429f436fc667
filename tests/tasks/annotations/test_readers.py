"""Each reader on small inline files: the real schema, and every kind of malformed input
becomes a problem naming file and line or element while the rest is kept."""

from __future__ import annotations

import json

import pytest

from tasks.annotations.coco import read_coco
from tasks.annotations.dota import read_dota
from tasks.annotations.groundtruth import parse_verification, read_groundtruth
from tasks.annotations.visdrone import read_visdrone
from tasks.annotations.voc import read_voc
from tasks.annotations.yolo import parse_names, read_yolo

URI = "s3://bucket/labels/file"


def _gt_line(ref="s3://in/a.jpg", attr="job", annotations=None, date="2026-01-01T00:00:00", **meta):
    anns = (
        [{"class_id": 0, "left": 10, "top": 20, "width": 30, "height": 40}]
        if annotations is None
        else annotations
    )
    metadata = {
        "class-map": {"0": "car", "1": "truck"},
        "human-annotated": "yes",
        "objects": [{"confidence": 0.9} for _ in anns],
        "creation-date": date,
        "type": "groundtruth/object-detection",
        "job-name": f"labeling-job/{attr}",
        **meta,
    }
    return {
        "source-ref": ref,
        attr: {"annotations": anns, "image_size": [{"width": 100, "height": 80, "depth": 3}]},
        f"{attr}-metadata": metadata,
    }


def _manifest(*lines) -> bytes:
    return b"".join(
        (line if isinstance(line, bytes) else json.dumps(line).encode()) + b"\n" for line in lines
    )


# -- Ground Truth ---------------------------------------------------------------------


def test_groundtruth_real_schema():
    found = read_groundtruth(_manifest(_gt_line(), _gt_line("s3://in/b.jpg", annotations=[])), URI)
    assert not found.problems
    assert found.covered["image_ref"].tolist() == ["s3://in/a.jpg", "s3://in/b.jpg"]
    box = found.raw_boxes.iloc[0]
    assert (box["class_name"], box["x_min"], box["y_min"], box["x_max"], box["y_max"]) == (
        "car",
        10,
        20,
        40,
        60,
    )
    assert (box["ref_width"], box["ref_height"], box["units"]) == (100, 80, "px")
    assert (box["confidence"], box["human_annotated"], box["source_line"]) == (
        0.9,
        True,
        f"{URI}:1#annotations[0]",
    )


def test_groundtruth_chained_jobs_default_newest_and_label_attribute():
    line = _gt_line(attr="first", date="2026-01-01T00:00:00")
    chained = _gt_line(
        attr="second",
        date="2026-02-01T00:00:00",
        annotations=[{"class_id": 1, "left": 1, "top": 2, "width": 3, "height": 4}],
    )
    line |= {k: v for k, v in chained.items() if k != "source-ref"}
    newest = read_groundtruth(_manifest(line), URI)
    assert newest.raw_boxes["class_name"].tolist() == ["truck"]
    chosen = read_groundtruth(_manifest(line), URI, label_attribute="first")
    assert chosen.raw_boxes["class_name"].tolist() == ["car"]


def test_groundtruth_adjustment_job_output_is_read_like_a_box_job():
    line = _gt_line(attr="adjusted", **{"adjustment-status": "adjusted"})
    assert len(read_groundtruth(_manifest(line), URI).raw_boxes) == 1


def test_groundtruth_auto_labeled_min_confidence():
    anns = [{"class_id": 0, "left": 1, "top": 1, "width": 5, "height": 5}] * 2
    line = _gt_line(
        annotations=anns,
        **{"human-annotated": "no", "objects": [{"confidence": 0.3}, {"confidence": 0.8}]},
    )
    found = read_groundtruth(_manifest(line), URI, min_confidence=0.5)
    assert found.raw_boxes["confidence"].tolist() == [0.8]
    assert found.raw_boxes["human_annotated"].tolist() == [False]
    assert [(p.rule, p.where, p.kind) for p in found.problems] == [
        ("gt-low-confidence", f"{URI}:1#annotations[0]", "box")
    ]
    human = read_groundtruth(
        _manifest(_gt_line(annotations=anns, objects=[{"confidence": 0.1}] * 2)),
        URI,
        min_confidence=0.5,
    )
    assert len(human.raw_boxes) == 2  # human-annotated objects are never filtered


def _verified(verdict: str) -> dict:
    line = _gt_line()
    line["verify"] = {"class_id": 1}
    line["verify-metadata"] = {
        "class-name": verdict,
        "type": "groundtruth/label-verification",
        "creation-date": "2026-03-01T00:00:00",
        "human-annotated": "yes",
    }
    return line


@pytest.mark.parametrize(
    ("verification", "verdict", "boxes", "covered"),
    [
        ("keep", "bad", 1, 1),
        ("drop", "bad", 0, 0),
        ("drop", "good", 1, 1),
        ("drop:nope", "Nope", 0, 0),
        ("drop:nope", "bad", 1, 1),
    ],
)
def test_groundtruth_verification(verification, verdict, boxes, covered):
    found = read_groundtruth(_manifest(_verified(verdict)), URI, verification=verification)
    assert (len(found.raw_boxes), len(found.covered)) == (boxes, covered)
    assert [p.rule for p in found.problems] == ([] if boxes else ["gt-verification-rejected"])


def test_parse_verification_rejects_nonsense():
    assert parse_verification("keep") is None
    with pytest.raises(ValueError, match="verification must be"):
        parse_verification("maybe")


BAD_LINE = _gt_line("s3://in/bad.jpg")


@pytest.mark.parametrize(
    ("bad", "rule", "where"),
    [
        (b'{"source-ref": "s3://in/x.jpg", ', "gt-bad-json", ":2"),
        (b"[1, 2]", "gt-bad-json", ":2"),
        (b"\xff\xfe not utf-8", "not-utf8", ":2"),
        ({"job": {}}, "gt-missing-source-ref", ":2"),
        ({"source-ref": "s3://in/x.jpg", "other": 1}, "gt-no-label-attribute", ":2"),
        (
            {
                "source-ref": "s3://in/x.jpg",
                "job-metadata": {
                    "failure-reason": "ClientError: no worker",
                    "type": "groundtruth/object-detection",
                },
            },
            "gt-failure-reason",
            ":2",
        ),
        (
            _gt_line(annotations=[{"class_id": 0, "left": 1, "top": 1}]),
            "gt-missing-key",
            ":2#annotations[0]",
        ),
        (
            _gt_line(annotations=[{"class_id": 7, "left": 1, "top": 1, "width": 2, "height": 2}]),
            "gt-class-id-unmapped",
            ":2#annotations[0]",
        ),
        (
            _gt_line(annotations=[{"class_id": 0, "left": 1, "top": 1, "width": -2, "height": 2}]),
            "box-negative-size",
            ":2#annotations[0]",
        ),
        (
            _gt_line(
                annotations=[{"class_id": 0, "left": "NaN", "top": 1, "width": 2, "height": 2}]
            ),
            "box-not-finite",
            ":2#annotations[0]",
        ),
        (
            {**BAD_LINE, "job": {**BAD_LINE["job"], "image_size": [{"width": -5, "height": 3}]}},
            "gt-bad-image-size",
            ":2",
        ),
    ],
)
def test_groundtruth_malformed_line_is_a_problem_and_the_rest_is_kept(bad, rule, where):
    data = _manifest(_gt_line("s3://in/a.jpg"), bad, _gt_line("s3://in/c.jpg"))
    found = read_groundtruth(data, URI)
    assert [(p.rule, p.where) for p in found.problems] == [(rule, URI + where)]
    assert {"s3://in/a.jpg", "s3://in/c.jpg"} <= set(found.raw_boxes["image_ref"])
    # an object lost inside a readable line makes that image's labels incomplete
    lost = ["s3://in/a.jpg"] if "#annotations" in where else []
    assert found.incomplete["image_ref"].tolist() == lost


def test_groundtruth_nan_literal_in_json_is_not_a_number():
    line = b'{"source-ref":"s3://in/n.jpg","job":{"annotations":[{"class_id":0,"left":NaN,"top":1,"width":2,"height":2}]},"job-metadata":{"class-map":{"0":"car"},"type":"groundtruth/object-detection"}}'
    found = read_groundtruth(line, URI)
    assert [p.rule for p in found.problems] == ["box-not-finite"] and found.raw_boxes.empty
    assert found.covered["image_ref"].tolist() == ["s3://in/n.jpg"]


# -- COCO -------------------------------------------------------------------------------


def _coco(**changes) -> bytes:
    doc = {
        "images": [
            {"id": 10, "file_name": "a.jpg", "width": 200, "height": 100},
            {"id": 11, "file_name": "empty.jpg", "width": 200, "height": 100},
        ],
        "categories": [{"id": 3, "name": "car"}, {"id": 7, "name": "truck"}],
        "annotations": [
            {
                "id": 1,
                "image_id": 10,
                "category_id": 7,
                "bbox": [10.5, 20.25, 30.0, 40.0],
                "iscrowd": 0,
                "area": 20000,
            },
            {"id": 2, "image_id": 10, "category_id": 3, "bbox": [0, 0, 5, 5], "iscrowd": 0},
        ],
    }
    doc.update(changes)
    return json.dumps(doc).encode()


def test_coco_real_schema_noncontiguous_ids_and_untrusted_area():
    found = read_coco(_coco(), URI)
    assert not found.problems
    assert found.raw_boxes["class_name"].tolist() == ["truck", "car"]
    first = found.raw_boxes.iloc[0]
    assert (first["x_min"], first["y_min"], first["x_max"], first["y_max"]) == (
        10.5,
        20.25,
        40.5,
        60.25,
    )
    assert found.covered["image_ref"].tolist() == ["a.jpg", "empty.jpg"]  # empty.jpg: background


@pytest.mark.parametrize(
    ("annotation", "rule"),
    [
        (
            {"id": 9, "image_id": 10, "category_id": 99, "bbox": [1, 1, 2, 2]},
            "coco-unknown-category",
        ),
        ({"id": 9, "image_id": 404, "category_id": 3, "bbox": [1, 1, 2, 2]}, "coco-unknown-image"),
        (
            {"id": 9, "image_id": 10, "category_id": 3, "bbox": [1, 1, 2, 2], "iscrowd": 1},
            "coco-iscrowd",
        ),
        ({"id": 9, "image_id": 10, "category_id": 3, "bbox": [1, 1, 2]}, "coco-bad-bbox"),
        ({"id": 9, "image_id": 10, "category_id": 3, "bbox": [1, 1, -2, 2]}, "box-negative-size"),
        ({"id": 9, "image_id": 10, "category_id": 3, "bbox": [1, None, 2, 2]}, "box-not-finite"),
    ],
)
def test_coco_bad_annotation_is_a_problem_naming_the_element(annotation, rule):
    base = json.loads(_coco())["annotations"]
    found = read_coco(_coco(annotations=[*base, annotation]), URI)
    assert [(p.rule, p.where) for p in found.problems] == [(rule, f"{URI}#annotations[2](id=9)")]
    assert len(found.raw_boxes) == 2


def test_coco_bad_image_and_bad_json():
    images = [{"id": 10, "file_name": "a.jpg", "width": -1, "height": 100}]
    found = read_coco(_coco(images=images, annotations=[]), URI)
    assert [(p.rule, p.where) for p in found.problems] == [
        ("coco-bad-image-size", f"{URI}#images[0]")
    ]
    broken = read_coco(b'{"images": [\n  {"id": 1,\n  oops}', URI)
    assert [(p.rule, p.where) for p in broken.problems] == [("coco-bad-json", f"{URI}:3")]
    latin1 = read_coco(
        b'{"images": [],\n"categories": [{"id": 1, "name": "caf\xe9"}], "annotations": []}', URI
    )
    assert [(p.rule, p.where) for p in latin1.problems] == [("not-utf8", f"{URI}:2")]


# -- VOC --------------------------------------------------------------------------------

VOC = b"""<annotation><filename>dir/a.jpg</filename>
<size><width>100</width><height>50</height></size>
<object><name>car</name><difficult>1</difficult><truncated>0</truncated>
<bndbox><xmin>1</xmin><ymin>1</ymin><xmax>11</xmax><ymax>21</ymax></bndbox></object>
%s
<object><name>bus</name>
<bndbox><xmin>50.5</xmin><ymin>10</ymin><xmax>60</xmax><ymax>20</ymax></bndbox></object>
</annotation>"""


def test_voc_one_based_by_default_and_zero_based_option():
    found = read_voc(VOC % b"", URI, fallback_ref="a")
    first = found.raw_boxes.iloc[0]
    assert (first["x_min"], first["y_min"], first["x_max"], first["y_max"]) == (0, 0, 10, 20)
    assert (first["difficult"], first["truncated"], first["fallback_ref"]) == (1, 0, "a")
    zero = read_voc(VOC % b"", URI, fallback_ref="a", zero_based=True).raw_boxes.iloc[0]
    assert (zero["x_min"], zero["x_max"]) == (1, 11)
    assert found.covered[["image_ref", "ref_width", "ref_height"]].to_numpy().tolist() == [
        ["dir/a.jpg", 100, 50]
    ]


@pytest.mark.parametrize(
    ("bad", "rule"),
    [
        (b"<object><name>car</name></object>", "voc-missing-bndbox"),
        (
            b"<object><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>2</xmax><ymax>2</ymax></bndbox></object>",
            "box-class-missing",
        ),
        (
            b"<object><name>car</name><bndbox><xmin>nan</xmin><ymin>1</ymin><xmax>2</xmax><ymax>2</ymax></bndbox></object>",
            "box-not-finite",
        ),
        (
            b"<object><name>car</name><bndbox><xmin>9</xmin><ymin>1</ymin><xmax>2</xmax><ymax>2</ymax></bndbox></object>",
            "box-negative-size",
        ),
    ],
)
def test_voc_bad_object_is_a_problem_naming_the_element(bad, rule):
    found = read_voc(VOC % bad, URI, fallback_ref="a")
    assert [(p.rule, p.where) for p in found.problems] == [(rule, f"{URI}#object[2]")]
    assert found.raw_boxes["class_name"].tolist() == ["car", "bus"]


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol">
<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<annotation><filename>&lol3;</filename></annotation>"""
EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE annotation [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<annotation><filename>&xxe;</filename></annotation>"""


@pytest.mark.parametrize(
    ("data", "rule", "where"),
    [
        (BILLION_LAUGHS, "voc-unsafe-xml", URI),
        (EXTERNAL, "voc-unsafe-xml", URI),
        (b"<annotation>\n<filename>a.jpg</filename>\n<object>", "voc-bad-xml", f"{URI}:3"),
        (b"<annotation>\n<filename>caf\xe9.jpg</filename></annotation>", "voc-bad-xml", f"{URI}:2"),
        (b"<other/>", "voc-bad-xml", f"{URI}#other"),
        (
            b"<annotation><size><width>-3</width><height>5</height></size></annotation>",
            "voc-bad-size",
            f"{URI}#annotation/size",
        ),
    ],
)
def test_voc_unsafe_or_broken_xml_is_refused(data, rule, where):
    found = read_voc(data, URI, fallback_ref="a")
    assert [(p.rule, p.where) for p in found.problems] == [(rule, where)]
    assert found.raw_boxes.empty and found.covered.empty


# -- VisDrone, DOTA, YOLO ---------------------------------------------------------------


def test_visdrone_rules_for_ignored_regions_and_others():
    data = (
        b"10,20,30,40,1,4,0,1\n0,0,0,0,0,0,0,0\n5,5,10,10,1,11,0,0\n5,5,10,10,1,12,0,0\n"
        b"5,5,10,10,1,5,1,2,\n\xff,1\n1,2,3\n"
    )
    found = read_visdrone(data, URI, image_ref="img")
    assert found.raw_boxes["class_name"].tolist() == ["car", "van"]
    assert found.raw_boxes[["truncated", "occlusion"]].to_numpy().tolist() == [[0, 1], [1, 2]]
    assert sorted((p.where, p.rule) for p in found.problems) == sorted(
        (w, r)
        for r, w in [
            ("visdrone-ignored-region", f"{URI}:2"),
            ("visdrone-others", f"{URI}:3"),
            ("visdrone-unknown-category", f"{URI}:4"),
            ("not-utf8", f"{URI}:6"),
            ("visdrone-field-count", f"{URI}:7"),
        ]
    )


def test_dota_quads_to_enclosing_boxes_with_header_and_difficult():
    data = (
        b"imagesource:GoogleEarth\ngsd:0.5\n10 5 20 8 18 30 8 25 ship 1\n1 1 2 2 3 3 plane 0\n"
        b"1 1 2 2 3 3 4 x plane 0\n0 0 4 0 4 4 0 4 plane\n"
    )
    found = read_dota(data, URI, image_ref="P1")
    assert found.raw_boxes[
        ["class_name", "x_min", "y_min", "x_max", "y_max", "difficult"]
    ].values.tolist()[0] == ["ship", 8, 5, 20, 30, 1]
    assert len(found.raw_boxes) == 2
    assert [(p.rule, p.where) for p in found.problems] == [
        ("dota-field-count", f"{URI}:4"),
        ("dota-not-numeric", f"{URI}:5"),
    ]


def test_yolo_revalidates_lines_with_the_layout_parser():
    data = (
        b"0 0.5 0.5 0.2 0.4\n1 0.5 0.5 0.2 nan\n5 0.1 0.1 0.1 0.1\n0 0.5 0.5\n"
        b"1.5 0.1 0.1 0.1 0.1\n1 0.25 0.25 0.5 0.5\n"
    )
    found = read_yolo(data, URI, image_ref="a", names=["car", "bus"])
    assert found.raw_boxes[["class_name", "x_min", "x_max", "units"]].to_numpy().tolist() == [
        ["car", 0.4, 0.6, "norm"],
        ["bus", 0.0, 0.5, "norm"],
    ]
    assert [(p.rule, p.where) for p in found.problems] == [
        ("yolo-bad-line", f"{URI}:2"),
        ("yolo-class-id-unknown", f"{URI}:3"),
        ("yolo-bad-line", f"{URI}:4"),
        ("yolo-bad-line", f"{URI}:5"),
    ]


@pytest.mark.parametrize(
    ("name", "text", "names"),
    [
        ("data.yaml", "names:\n  0: car\n  1: bus\nnc: 2\n", ["car", "bus"]),
        ("data.yaml", "names: [car, bus]\n", ["car", "bus"]),
        ("classes.txt", "car\nbus\n\n", ["car", "bus"]),
        ("obj.names", "car\r\nbus\r\n", ["car", "bus"]),
    ],
)
def test_yolo_names_files(name, text, names):
    assert parse_names(name, text) == names


def test_voc_zero_size_means_unknown():
    data = VOC.replace(
        b"<width>100</width><height>50</height>", b"<width>0</width><height>0</height>"
    )
    found = read_voc(data % b"", URI, fallback_ref="a")
    assert not found.problems and len(found.raw_boxes) == 2
    assert found.covered["ref_width"].isna().all() and found.raw_boxes["ref_width"].isna().all()
