"""read_annotations: format detection from content, prefixes of many files, names for
YOLO, configuration errors, S3 (moto), and merging sets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tasks.annotations import AnnotationSet, detect_format, read_annotations
from tasks.storage import Store

GT_LINE = {
    "source-ref": "s3://in/a.jpg",
    "job": {"annotations": [{"class_id": 0, "left": 1, "top": 2, "width": 3, "height": 4}]},
    "job-metadata": {"class-map": {"0": "car"}, "type": "groundtruth/object-detection"},
}
VOC = (
    b"<annotation><filename>a.jpg</filename><object><name>car</name><bndbox>"
    b"<xmin>1</xmin><ymin>1</ymin><xmax>5</xmax><ymax>5</ymax></bndbox></object></annotation>"
)
COCO = json.dumps({"images": [], "annotations": [], "categories": []}).encode()


@pytest.mark.parametrize(
    ("name", "data", "fmt"),
    [
        ("output.manifest", json.dumps(GT_LINE).encode(), "groundtruth"),
        ("labels.json", json.dumps(GT_LINE).encode(), "groundtruth"),
        ("broken.manifest", b"not json\n", "groundtruth"),
        ("instances.json", COCO, "coco"),
        ("labelme.json", b'{"shapes": []}', None),
        ("a.xml", VOC, "voc"),
        ("pom.xml", b"<project/>", None),
        ("a.txt", b"0 0.5 0.5 0.1 0.1\n", "yolo"),
        ("a.txt", b"10,20,30,40,1,4,0,0\n", "visdrone"),
        ("a.txt", b"imagesource:GoogleEarth\ngsd:0.1\n", "dota"),
        ("a.txt", b"1 1 2 1 2 2 1 2 plane 0\n", "dota"),
        ("a.txt", b"", "empty-txt"),
        ("notes.txt", b"hello world\n", None),
        ("classes.txt", b"car\n", "names"),
        ("data.yaml", b"names: [car]\n", "names"),
        ("image.jpg", b"\xff\xd8", None),
    ],
)
def test_detect_format_from_content(name, data, fmt):
    assert detect_format(name, data) == fmt


def _write(root: Path, files: dict[str, bytes]) -> Path:
    for key, data in files.items():
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        (root / key).write_bytes(data)
    return root


def test_prefix_of_several_manifests_is_merged(tmp_path):
    line2 = {**GT_LINE, "source-ref": "s3://in/b.jpg"}
    _write(
        tmp_path,
        {
            "a/output.manifest": json.dumps(GT_LINE).encode(),
            "b/output.manifest": json.dumps(line2).encode(),
            "README.md": b"# x",
        },
    )
    found = read_annotations(str(tmp_path), Store())
    assert found.covered["image_ref"].tolist() == ["s3://in/a.jpg", "s3://in/b.jpg"]
    assert found.raw_boxes["source_uri"].tolist() == [
        str(tmp_path / "a/output.manifest"),
        str(tmp_path / "b/output.manifest"),
    ]


def test_yolo_prefix_refs_are_keys_without_suffix_and_names_come_from_data_yaml(tmp_path):
    _write(
        tmp_path,
        {
            "data.yaml": b"names:\n  0: car\n  1: bus\n",
            "labels/train/a.txt": b"1 0.5 0.5 0.2 0.2\n",
            "labels/train/empty.txt": b"",
        },
    )
    found = read_annotations(str(tmp_path / "labels"), Store())
    assert found.covered["image_ref"].tolist() == ["train/a", "train/empty"]
    assert found.raw_boxes["class_name"].tolist() == ["bus"]
    named = read_annotations(str(tmp_path / "labels"), Store(), names=["x", "y"])
    assert named.raw_boxes["class_name"].tolist() == ["y"]


def test_a_single_file_uri(tmp_path):
    _write(tmp_path, {"x.xml": VOC})
    found = read_annotations(str(tmp_path / "x.xml"), Store())
    assert found.raw_boxes["fallback_ref"].tolist() == ["x"]
    assert found.raw_boxes["x_min"].tolist() == [0.0]
    assert read_annotations(str(tmp_path / "x.xml"), Store(), voc_zero_based=True).raw_boxes[
        "x_min"
    ].tolist() == [1.0]


def test_format_override_skips_other_files(tmp_path):
    _write(
        tmp_path, {"xml/a.xml": VOC, "txt/a.txt": b"0 0.5 0.5 0.1 0.1\n", "classes.txt": b"car\n"}
    )
    with pytest.raises(
        ValueError, match=r"several annotation formats: voc \(1 files\), yolo \(1 files\)"
    ):
        read_annotations(str(tmp_path), Store())
    found = read_annotations(str(tmp_path), Store(), fmt="voc")
    assert found.raw_boxes["source_format"].tolist() == ["voc"]


@pytest.mark.parametrize(
    ("files", "kwargs", "message"),
    [
        ({}, {}, "no annotation files"),
        ({"notes.txt": b"hello world\n"}, {}, "no file in a known annotation format"),
        ({"a.txt": b"0 0.5 0.5 0.1 0.1\n"}, {}, "YOLO labels need class names"),
        ({"a.xml": VOC}, {"fmt": "labelme"}, "format must be one of"),
        ({"a.xml": VOC}, {"min_confidence": 1.5}, "min_confidence"),
        ({"a.xml": VOC}, {"verification": "sometimes"}, "verification must be"),
    ],
)
def test_configuration_errors_raise_before_reading(tmp_path, files, kwargs, message):
    _write(tmp_path / "ann", files) if files else (tmp_path / "ann").mkdir()
    with pytest.raises(ValueError, match=message):
        read_annotations(str(tmp_path / "ann"), Store(), **kwargs)


def test_groundtruth_prefix_on_s3(s3):
    bad = b"{broken\n"
    s3.put_object(
        Bucket="bucket",
        Key="labels/job1/output.manifest",
        Body=json.dumps(GT_LINE).encode() + b"\n" + bad,
    )
    s3.put_object(
        Bucket="bucket",
        Key="labels/job2/output.manifest",
        Body=json.dumps({**GT_LINE, "source-ref": "s3://in/b.jpg"}).encode(),
    )
    s3.put_object(Bucket="bucket", Key="labels/", Body=b"")
    found = read_annotations("s3://bucket/labels/", Store().use_client(s3))
    assert len(found.raw_boxes) == 2
    assert [(p.rule, p.where) for p in found.problems] == [
        ("gt-bad-json", "s3://bucket/labels/job1/output.manifest:2")
    ]
    single = read_annotations("s3://bucket/labels/job2/output.manifest", Store().use_client(s3))
    assert single.covered["image_ref"].tolist() == ["s3://in/b.jpg"]


def test_yolo_names_beside_a_labels_prefix_on_s3(s3):
    s3.put_object(Bucket="bucket", Key="ds/classes.txt", Body=b"car\nbus\n")
    s3.put_object(Bucket="bucket", Key="ds/labels/a.txt", Body=b"1 0.5 0.5 0.2 0.2\n")
    found = read_annotations("s3://bucket/ds/labels", Store().use_client(s3))
    assert found.raw_boxes["class_name"].tolist() == ["bus"]


def test_merge_keeps_order_and_handles_empty():
    assert AnnotationSet.merge([]).raw_boxes.empty
    a = read_annotations_bytes("a")
    b = read_annotations_bytes("b")
    merged = a + b
    assert merged.covered["image_ref"].tolist() == ["s3://in/a", "s3://in/b"]
    assert len(merged.raw_boxes) == 2 and merged.problems == []


def read_annotations_bytes(name: str) -> AnnotationSet:
    from tasks.annotations.groundtruth import read_groundtruth

    return read_groundtruth(json.dumps({**GT_LINE, "source-ref": f"s3://in/{name}"}).encode(), name)


def test_an_undetectable_label_file_in_a_yolo_prefix_is_reported_not_skipped(tmp_path):
    polygon = b"0 0.1 0.1 0.2 0.1 0.2 0.2\n"  # a segmentation line: not a detection label
    _write(tmp_path, {"classes.txt": b"car\n", "a.txt": b"0 0.5 0.5 0.1 0.1\n", "b.txt": polygon})
    found = read_annotations(str(tmp_path), Store())
    assert found.covered["image_ref"].tolist() == ["a", "b"]
    assert [(p.rule, p.where) for p in found.problems] == [
        ("yolo-bad-line", f"{tmp_path / 'b.txt'}:1")
    ]
    assert found.incomplete["image_ref"].tolist() == ["b"]
