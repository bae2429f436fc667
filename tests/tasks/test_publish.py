"""Publishing: layout, unique names, atomic completion, resume after a crash, S3 copies."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from PIL import Image

from tasks.layout import DATASET_INFO, PlannedImage
from tasks.publish import (
    DatasetExistsError,
    dataset_file_names,
    label_text,
    plan_dataset,
    publish_dataset,
)
from tasks.storage import Store
from tests.conftest import make_image_bytes


def test_file_names_are_unique_and_safe() -> None:
    keys = ["f1/img (1).jpg", "f2/img (1).jpg", "a b.jpg", "a_b.jpg", "A_B.png", "x.jpg", "x.png"]
    names = dataset_file_names(keys, ["JPEG", "JPEG", "JPEG", "JPEG", "PNG", "JPEG", "PNG"])
    assert names[0] == "f1__img_1.jpg"
    assert names[1] == "f2__img_1.jpg"
    stems = [n.rsplit(".", 1)[0].lower() for n in names]
    assert len(set(stems)) == len(stems)
    assert all(n.replace("-", "").replace("_", "").replace(".", "").isalnum() for n in names)
    assert names[4].endswith(".png")


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([], ""),
        (
            [(1, 0.5, 0.5, 0.2, 0.1), (0, 0.25, 0.75, 0.1, 0.1)],
            "0 0.250000 0.750000 0.100000 0.100000\n1 0.500000 0.500000 0.200000 0.100000\n",
        ),
    ],
)
def test_label_text_is_sorted_and_formatted(rows: list[tuple], expected: str) -> None:
    boxes = pd.DataFrame(rows, columns=["class_id", "x_center", "y_center", "width", "height"])
    assert label_text(boxes) == expected


def _tables(root: Path, count: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rows = []
    for i in range(count):
        data = make_image_bytes(32, 24, seed=i)
        path = root / f"flight {i % 2}" / f"img ({i}).jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        rows.append(
            {
                "key": f"flight {i % 2}/img ({i}).jpg",
                "uri": str(path),
                "bytes": len(data),
                "width": 32,
                "height": 24,
                "format": "JPEG",
                "orientation": 1,
                "status": "ok",
                "sha256": hashlib.sha256(data).hexdigest(),
                "split": "val" if i % 3 == 0 else "train",
            }
        )
    images = pd.DataFrame(rows)
    boxes = pd.DataFrame(
        [
            {
                "image_key": images.key[0],
                "class_id": 0,
                "x_center": 0.5,
                "y_center": 0.5,
                "width": 0.25,
                "height": 0.5,
            }
        ]
    )
    return images, boxes


def test_publish_local_layout_and_info(tmp_path: Path) -> None:
    images, boxes = _tables(tmp_path / "raw", 6)
    plan = plan_dataset(images, boxes)
    dataset = str(tmp_path / "out" / "ds")
    info = publish_dataset(plan, ["car"], dataset_uri=dataset, store=Store(), info={"name": "ds"})
    root = Path(dataset)
    assert sorted(p.name for p in (root / "train" / "images").iterdir()) == [
        "flight_0__img_2.jpg",
        "flight_0__img_4.jpg",
        "flight_1__img_1.jpg",
        "flight_1__img_5.jpg",
    ]
    assert (root / "val" / "labels" / "flight_0__img_0.txt").read_text() == (
        "0 0.500000 0.500000 0.250000 0.500000\n"
    )
    assert (root / "train" / "labels" / "flight_1__img_1.txt").read_text() == ""
    data_yaml = yaml.safe_load((root / "data.yaml").read_text())
    assert data_yaml == {"train": "train/images", "val": "val/images", "nc": 1, "names": {0: "car"}}
    on_disk = json.loads((root / DATASET_INFO).read_text())
    assert on_disk == info
    for entry in on_disk["files"]:
        data = (root / entry["path"]).read_bytes()
        assert (len(data), hashlib.sha256(data).hexdigest()) == (entry["bytes"], entry["sha256"])
    with pytest.raises(DatasetExistsError, match="--overwrite"):
        publish_dataset(plan, ["car"], dataset_uri=dataset, store=Store(), info={})
    publish_dataset(plan[:3], ["car"], dataset_uri=dataset, store=Store(), info={}, overwrite=True)
    assert len(list(Store().list(dataset))) == 3 * 2 + 2  # stale objects of the old plan removed


def test_exif_rotated_source_is_published_upright(tmp_path: Path) -> None:
    stored = Image.new("RGB", (40, 20), "white")
    stored.putpixel((0, 0), (255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW to display: displayed size is 20x40
    src = tmp_path / "rot.jpg"
    stored.save(src, format="JPEG", exif=exif, quality=100)
    item = PlannedImage("train", "rot.jpg", "rot.jpg", str(src), 20, 40, "JPEG", 6, None, "")
    publish_dataset([item], ["car"], dataset_uri=str(tmp_path / "ds"), store=Store(), info={})
    with Image.open(tmp_path / "ds" / "train" / "images" / "rot.jpg") as published:
        assert published.size == (20, 40)
        assert published.getexif().get(0x0112) in (None, 1)


class _FailingStore(Store):
    """A Store whose copy fails after ``fail_after`` calls, as a crash mid-publish would."""

    def __init__(self, fail_after: int) -> None:
        super().__init__()
        self.fail_after = fail_after
        self.copies = 0

    def copy(self, src_uri: str, dst_uri: str) -> None:
        self.copies += 1
        if self.copies > self.fail_after:
            raise ConnectionError("simulated crash between files")
        super().copy(src_uri, dst_uri)


@pytest.mark.integration
def test_s3_publish_is_server_side_atomic_and_resumable(s3: object, tmp_path: Path) -> None:
    images, boxes = _tables(tmp_path / "raw", 8)
    for row in images.itertuples():
        s3.put_object(Bucket="bucket", Key=f"raw-data/{row.key}", Body=Path(row.uri).read_bytes())
    images = images.assign(uri="s3://bucket/raw-data/" + images["key"])
    plan = plan_dataset(images, boxes)
    dataset = "s3://bucket/datasets/ds"
    failing = _FailingStore(fail_after=3).use_client(s3)
    with pytest.raises(ConnectionError):
        publish_dataset(plan, ["car"], dataset_uri=dataset, store=failing, info={})
    assert not Store().use_client(s3).exists(f"{dataset}/{DATASET_INFO}")

    writes: list[str] = []
    reads: list[str] = []
    for op in ("PutObject", "CopyObject"):
        s3.meta.events.register(
            f"provide-client-params.s3.{op}", lambda params, **_: writes.append(params["Key"])
        )
    s3.meta.events.register(
        "provide-client-params.s3.GetObject", lambda params, **_: reads.append(params["Key"])
    )
    info = publish_dataset(
        plan, ["car"], dataset_uri=dataset, store=Store().use_client(s3), info={}
    )
    assert not [key for key in reads if key.endswith(".jpg")]  # images copied server-side
    assert writes[0] == "datasets/ds.publish-lock"
    assert writes[-1] == "datasets/ds/dataset_info.json"  # written last
    listed = sorted(
        o["Key"] for o in s3.list_objects_v2(Bucket="bucket", Prefix="datasets/")["Contents"]
    )
    expected = [f"datasets/ds/{f['path']}" for f in info["files"]] + [
        "datasets/ds/dataset_info.json"
    ]
    assert listed == sorted(expected)
