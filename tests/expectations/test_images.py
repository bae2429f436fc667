"""The images suite: format, whole files, minimum side."""

from __future__ import annotations

from tests.conftest import make_image_bytes
from tests.expectations.factory import failed_rules, finish_dataset

IMAGE = "train/images/img_0001.jpg"


def test_truncated_image_is_rejected_naming_the_file(dataset, store, check) -> None:
    path = dataset / IMAGE
    path.write_bytes(path.read_bytes()[:-200])
    finish_dataset(store, str(dataset))

    report = check(dataset)

    assert failed_rules(report) == ["image-decodes"]
    assert f"{IMAGE} (no JPEG end-of-image marker" in report.failures[0]


def test_file_that_is_not_an_image_is_rejected(dataset, store, check) -> None:
    (dataset / IMAGE).write_text("this is not an image")
    finish_dataset(store, str(dataset))

    report = check(dataset)

    assert failed_rules(report) == ["image-decodes"]
    assert "not a readable image" in report.failures[0]


def test_unsupported_format_is_rejected(dataset, store, check) -> None:
    (dataset / IMAGE).write_bytes(make_image_bytes(64, 48, "BMP"))
    finish_dataset(store, str(dataset))

    report = check(dataset)

    assert failed_rules(report) == ["image-format"]
    assert f"{IMAGE} (BMP)" in report.failures[0]


def test_image_below_the_minimum_side_is_rejected(dataset, store, check) -> None:
    (dataset / IMAGE).write_bytes(make_image_bytes(40, 20, "JPEG"))
    finish_dataset(store, str(dataset))

    report = check(dataset, min_image_side=24)

    assert failed_rules(report) == ["image-min-side"]
    assert "at least 24 px" in report.failures[0]
    assert f"{IMAGE} (20)" in report.failures[0]


def test_png_images_pass(dataset, store, check) -> None:
    (dataset / IMAGE).unlink()
    (dataset / "train/images/img_0001.png").write_bytes(make_image_bytes(64, 48, "PNG"))
    finish_dataset(store, str(dataset))

    assert check(dataset).success


def test_deep_decode_catches_corrupt_data_with_an_intact_end(dataset, store) -> None:
    from expectations import frames_from_dataset

    body = bytearray(make_image_bytes(64, 48, "PNG"))
    data_start = body.index(b"IDAT") + 4
    body[data_start + 10 : data_start + 60] = b"\x00" * 50
    (dataset / IMAGE).unlink()
    (dataset / "train/images/img_0001.png").write_bytes(bytes(body))

    shallow = frames_from_dataset(str(dataset), store).images.set_index("path")
    deep = frames_from_dataset(str(dataset), store, deep=True).images.set_index("path")

    png = "train/images/img_0001.png"
    assert shallow.loc[png, "decodes"]
    assert not deep.loc[png, "decodes"]
    assert "does not decode" in deep.loc[png, "where"]
