"""EXIF orientation: a real photo re-saved with each of the 8 orientations (stored pixels
transposed so it displays the same) gives the same labels and the same upright pixels."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from tasks.annotations import assign_class_ids, read_annotations, resolve_boxes
from tasks.layout import format_label_line
from tasks.orientation import ORIENTATION_TAG, displayed_size, read_orientation, upright_image
from tasks.storage import Store

# the transpose that undoes what EXIF orientation N does on display
STORE_AS = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def _encode(image: Image.Image, fmt: str, orientation: int) -> bytes:
    stored = image if STORE_AS[orientation] is None else image.transpose(STORE_AS[orientation])
    exif = Image.Exif()
    if orientation != 1:
        exif[ORIENTATION_TAG] = orientation
    buffer = io.BytesIO()
    options = {"quality": 95} if fmt == "JPEG" else {}
    stored.save(buffer, format=fmt, exif=exif.tobytes(), **options)
    return buffer.getvalue()


def _images_table(root) -> pd.DataFrame:
    """What profiling says of each image: size as displayed, orientation from the header."""
    rows = []
    for path in sorted(root.glob("o*")):
        data = path.read_bytes()
        orientation = read_orientation(data)
        with Image.open(io.BytesIO(data)) as image:
            width, height = displayed_size(*image.size, orientation)
        rows.append(
            {
                "key": path.name,
                "width": width,
                "height": height,
                "orientation": orientation,
                "status": "ok",
            }
        )
    return pd.DataFrame(rows)


@pytest.fixture
def cat(realdata):
    """The real photo 0002.jpg (601x453) and its Ground Truth boxes, as displayed."""
    base = realdata / "sagemaker-gt-cat-labels"
    line = json.loads((base / "output.manifest").read_text().splitlines()[2])  # 0003: two cats
    with Image.open(base / "res" / "input-images" / "0003.jpg") as image:
        return image.convert("RGB"), line


@pytest.mark.realdata
@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_eight_orientations_same_labels_and_upright_pixels(cat, fmt, tmp_path):
    displayed, line = cat
    suffix = ".png" if fmt == "PNG" else ".jpg"
    manifest = []
    for orientation in range(1, 9):
        data = _encode(displayed, fmt, orientation)
        (tmp_path / f"o{orientation}{suffix}").write_bytes(data)
        assert read_orientation(data) == orientation
        manifest.append(
            json.dumps({**line, "source-ref": f"s3://elsewhere/o{orientation}{suffix}"})
        )
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "output.manifest").write_text("\n".join(manifest) + "\n")
    images = _images_table(tmp_path)
    assert set(zip(images["width"], images["height"], strict=True)) == {(601, 453)}

    found = read_annotations(str(tmp_path / "labels"), Store())
    boxes, covered, problems = resolve_boxes(found, images, source_uri=str(tmp_path))
    boxes, _, _ = assign_class_ids(boxes, classes=None, class_map=None, drop_unknown=False)
    assert not problems and len(covered) == 8
    texts = {
        key: "".join(
            format_label_line(r.class_id, r.x_center, r.y_center, r.width, r.height) + "\n"
            for r in group.itertuples()
        )
        for key, group in boxes.groupby("image_key")
    }
    assert len(set(texts.values())) == 1 and texts[f"o1{suffix}"].count("\n") == 2

    want = np.asarray(displayed, dtype=np.int16)
    for orientation in range(1, 9):
        data = (tmp_path / f"o{orientation}{suffix}").read_bytes()
        upright, out_fmt = upright_image(data)
        assert out_fmt == fmt
        if orientation == 1:
            assert upright == data  # published byte for byte
        with Image.open(io.BytesIO(upright)) as image:
            assert image.getexif().get(ORIENTATION_TAG) is None
            got = np.asarray(image.convert("RGB"), dtype=np.int16)
        assert got.shape == want.shape
        if fmt == "PNG":
            assert np.array_equal(got, want)
        else:  # two JPEG generations at quality 95
            assert np.abs(got - want).mean() < 3.0


def test_upright_image_keeps_other_exif_and_mode(image_bytes):
    with Image.open(io.BytesIO(image_bytes(40, 20, "PNG"))) as image:
        exif = Image.Exif()
        exif[ORIENTATION_TAG] = 6
        exif[0x010F] = "DroneMaker"  # Make
        buffer = io.BytesIO()
        image.convert("L").save(buffer, format="PNG", exif=exif.tobytes())
    upright, fmt = upright_image(buffer.getvalue())
    with Image.open(io.BytesIO(upright)) as image:
        assert (fmt, image.size, image.mode) == ("PNG", (20, 40), "L")
        assert image.getexif().get(0x010F) == "DroneMaker"
        assert ORIENTATION_TAG not in image.getexif()


@pytest.mark.parametrize(("value", "expected"), [(None, 1), (3, 3), (9, 1), (0, 1)])
def test_read_orientation(image_bytes, value, expected):
    with Image.open(io.BytesIO(image_bytes(8, 8, "JPEG"))) as image:
        exif = Image.Exif()
        if value is not None:
            exif[ORIENTATION_TAG] = value
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", exif=exif.tobytes())
    assert read_orientation(buffer.getvalue()) == expected


@pytest.mark.parametrize(
    ("orientation", "size"), [(1, (4, 3)), (3, (4, 3)), (6, (3, 4)), (8, (3, 4))]
)
def test_displayed_size(orientation, size):
    assert displayed_size(4, 3, orientation) == size
