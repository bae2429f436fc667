"""Frames from a plan in memory and from a published dataset have the same shape."""

from __future__ import annotations

import pytest

from expectations import frames_from_dataset, frames_from_plan, validate_frames
from expectations.probe import HEAD_BYTES, probe_image
from tasks.layout import PlannedImage
from tests.conftest import make_image_bytes
from tests.expectations.factory import NAMES, failed_rules, finish_dataset, label_text

FRAMES = (
    "dataset",
    "names",
    "files",
    "pairs",
    "images",
    "label_lines",
    "class_counts",
    "splits",
    "groups",
)


def _plan(n_train: int = 6, n_val: int = 3) -> list[PlannedImage]:
    plan = []
    for index in range(n_train + n_val):
        plan.append(
            PlannedImage(
                split="train" if index < n_train else "val",
                file_name=f"img_{index:04d}.jpg",
                source_key=f"raw/{index}.jpg",
                source_uri=f"s3://b/raw/{index}.jpg",
                width=64,
                height=48,
                format="JPEG",
                orientation=1,
                sha256=None,
                label_text=label_text(index),
            )
        )
    return plan


def test_plan_and_dataset_frames_have_the_same_columns(dataset, store) -> None:
    finish_dataset(store, str(dataset))

    from_plan = frames_from_plan(_plan(), NAMES)
    from_dataset = frames_from_dataset(str(dataset), store)

    for name in FRAMES:
        assert list(from_plan.frame(name).columns) == list(from_dataset.frame(name).columns)
    counted = ["split", "class_name", "instances"]
    assert from_plan.class_counts[counted].equals(from_dataset.class_counts[counted])
    per_split = ["split", "images", "labels", "instances", "background_images"]
    assert from_plan.splits[per_split].equals(from_dataset.splits[per_split])
    assert from_plan.label_lines["where"].tolist() == from_dataset.label_lines["where"].tolist()


def test_a_good_plan_passes_the_gate() -> None:
    report = validate_frames(frames_from_plan(_plan(), NAMES), min_train=5, min_val=3)

    assert report.success, report.failures
    assert report.statistics["splits"]["val"]["class_instances"] == {"car": 3, "person": 3}


def test_a_bad_plan_fails_the_gate_with_the_same_rules() -> None:
    plan = _plan(n_train=6, n_val=2)
    bad = plan[0].__class__(**{**plan[0].__dict__, "label_text": "4 0.5 0.5 1.5 0.2\n"})
    plan[0] = bad

    report = validate_frames(
        frames_from_plan([*plan, plan[1]], NAMES, info={"parameters": {"min_val": 3}}),
        min_train=5,
        min_val=1,
    )

    rules = failed_rules(report)
    assert "label-class-id" in rules
    assert "label-width-range" in rules
    assert "min-val-images" in rules  # dataset_info's min_val 3 raised the call's 1
    assert "file-sha256" not in rules  # no file list before publishing


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_probe_reads_head_and_tail_only(tmp_path, store, fmt) -> None:
    body = make_image_bytes(256, 256, fmt, seed=3)
    path = tmp_path / "x.img"
    path.write_bytes(body)
    assert len(body) > 2 * HEAD_BYTES

    probe = probe_image(store, str(path), len(body), full=False, decode=False)

    assert (probe.format, probe.width_px, probe.height_px, probe.decodes) == (fmt, 256, 256, True)
    assert probe.bytes_read < len(body) / 2
    assert probe.sha256 is None


def test_probe_of_an_empty_file(tmp_path, store) -> None:
    (tmp_path / "e.jpg").write_bytes(b"")

    probe = probe_image(store, str(tmp_path / "e.jpg"), 0, full=False, decode=False)

    assert not probe.decodes
    assert probe.error == "empty file"


@pytest.mark.parametrize(
    ("fmt", "size", "kwargs"),
    [
        ("JPEG", (64, 48), {}),
        ("JPEG", (33, 517), {"progressive": True}),
        ("JPEG", (640, 480), {"exif": b"Exif\x00\x00" + b"\x00" * 5000}),
        ("PNG", (17, 3), {}),
    ],
)
def test_fast_header_agrees_with_pillow(fmt, size, kwargs) -> None:
    import io

    from PIL import Image

    from expectations.probe import _fast_header

    body = make_image_bytes(*size, fmt, **kwargs)
    with Image.open(io.BytesIO(body)) as image:
        expected = (image.format, *image.size)

    assert _fast_header(body) == expected
    assert _fast_header(body[:20]) is None or fmt == "PNG"
    assert _fast_header(b"BM" + body[2:]) is None
