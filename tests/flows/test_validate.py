"""flows.validate: the suites on a published dataset, local or S3, and its command line."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from expectations import frames_from_dataset, validate_frames
from flows.validate import main
from tasks.storage import Store
from tests.conftest import make_image_bytes
from tests.expectations.factory import failed_rules, finish_dataset, write_dataset

ROOT = "s3://bucket/datasets/ds"
SMALL = {"min_train": 5, "min_val": 3}


def _count_get_bytes(client) -> dict[str, list[tuple[bool, int]]]:
    """Per key, every GetObject as (ranged, bytes in the response body), via botocore hooks."""
    reads: dict[str, list[tuple[bool, int]]] = defaultdict(list)

    def after_get(http_response, parsed, **_) -> None:
        # virtual-hosted style: https://bucket.s3.amazonaws.com/<key>
        key = unquote(urlsplit(http_response.url).path.lstrip("/"))
        reads[key].append(("ContentRange" in parsed, int(parsed["ContentLength"])))

    client.meta.events.register("after-call.s3.GetObject", after_get)
    return reads


@pytest.fixture
def s3_dataset(s3) -> Iterator[Store]:
    store = Store().use_client(s3)
    write_dataset(store, ROOT, size_px=(512, 384))
    finish_dataset(store, ROOT)
    yield store


def test_validate_on_s3_reads_no_image_body_in_full(s3, s3_dataset) -> None:
    sizes = {o["Key"]: o["Size"] for o in s3.list_objects_v2(Bucket="bucket")["Contents"]}
    reads = _count_get_bytes(s3)

    report = validate_frames(frames_from_dataset(ROOT, s3_dataset), **SMALL)

    assert report.success, report.failures
    images = [key for key in sizes if "/images/" in key]
    assert len(images) == 9
    for key in images:
        assert reads[key], f"{key} was not read at all"
        assert all(ranged for ranged, _ in reads[key]), f"{key} was read without a Range"
        read = sum(n for _, n in reads[key])
        assert read < sizes[key] / 2, f"{key}: {read} of {sizes[key]} bytes read"
    image_bytes = sum(sizes[k] for k in images)
    read_bytes = sum(n for k in images for _, n in reads[k])
    assert report.statistics["image_bytes_read"] == read_bytes
    assert report.statistics["image_sha256_verified"] is False
    print(f"\nread {read_bytes} of {image_bytes} image bytes ({read_bytes / image_bytes:.1%})")


def test_deep_validate_on_s3_catches_a_changed_image_of_the_same_size(s3, s3_dataset) -> None:
    key = "datasets/ds/train/images/img_0002.jpg"
    body = bytearray(s3.get_object(Bucket="bucket", Key=key)["Body"].read())
    body[400] ^= 0xFF
    s3.put_object(Bucket="bucket", Key=key, Body=bytes(body))

    shallow = validate_frames(frames_from_dataset(ROOT, s3_dataset), **SMALL)
    deep = validate_frames(frames_from_dataset(ROOT, s3_dataset, deep=True), **SMALL)

    assert shallow.success  # same size, whole file: only its sha256 can tell
    assert "file-sha256" in failed_rules(deep)
    sentence = next(f for f in deep.failures if f.startswith("file-sha256"))
    assert "train/images/img_0002.jpg" in sentence


def test_truncated_image_on_s3_fails_size_and_end_marker(s3, s3_dataset) -> None:
    key = "datasets/ds/val/images/img_0007.jpg"
    body = s3.get_object(Bucket="bucket", Key=key)["Body"].read()
    s3.put_object(Bucket="bucket", Key=key, Body=body[: len(body) - 1000])

    report = validate_frames(frames_from_dataset(ROOT, s3_dataset), **SMALL)

    assert failed_rules(report) == ["image-decodes", "file-size"]


def test_command_line_exit_codes(tmp_path: Path, capsys) -> None:
    store = Store()
    good, bad = tmp_path / "good", tmp_path / "bad"
    for root in (good, bad):
        write_dataset(store, str(root))
    (bad / "val/images/img_0007.jpg").write_bytes(make_image_bytes(64, 48)[:300])
    (bad / "train/labels/img_0001.txt").write_text("0 0.5 0.5 0.1 0.1\n5 0.5 0.5 0.1 0.1\n")
    finish_dataset(store, str(good))
    finish_dataset(store, str(bad))
    docs = tmp_path / "docs"
    small = ["--min-train", "5", "--min-val", "3"]

    assert main([str(good), *small, "--docs", str(docs)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert f"VALID {good}: train 6 images, val 3 images" in out
    assert (docs / "index.html").is_file()

    assert main([str(bad), *small]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"INVALID {bad}: 2 rule(s) failed"
    assert out[1].startswith("label-class-id: class ids must be integers within names (0..1)")
    assert "train/labels/img_0001.txt:2 (5.0)" in out[1]
    assert out[2].startswith("image-decodes:")
    assert "val/images/img_0007.jpg" in out[2]

    (good / "dataset_info.json").unlink()
    assert main([str(good), *small]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[1].startswith(
        "layout-dataset-info: dataset_info.json is missing: the dataset is incomplete"
    )
    assert len([line for line in out if not line.startswith("warning:")]) == 2


@pytest.mark.parametrize(
    "argv",
    [
        ["/nonexistent/dataset"],
        ["ftp://host/x"],
        ["--min-train", "x", "d"],
        ["d", "--min-val", "-1"],
        [],
    ],
)
def test_command_line_bad_arguments_exit_2(argv, capsys) -> None:
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = exit_.code
    assert code == 2
    assert capsys.readouterr().err


@pytest.mark.integration
@pytest.mark.usefixtures("prefect_harness")
def test_flow_returns_the_summary_or_a_failed_state(tmp_path: Path) -> None:
    from flows.validate import validate_dataset

    store = Store()
    root = tmp_path / "ds"
    write_dataset(store, str(root))
    finish_dataset(store, str(root))
    summary = validate_dataset(str(root), min_train=5, min_val=3)
    state = validate_dataset(str(root), min_train=5, min_val=4, return_state=True)

    assert summary["success"] is True
    assert summary["statistics"]["splits"]["train"]["images"] == 6
    assert state.is_failed()
    assert "min-val-images" in state.message
    assert state.result(raise_on_failure=False)["failures"][0].startswith("min-val-images")


def test_a_dataset_published_by_tasks_publish_validates(tmp_path: Path) -> None:
    """Producer and consumer agree: publish's layout, file list and digest pass every suite."""
    import hashlib

    from tasks.layout import PlannedImage
    from tasks.publish import publish_dataset
    from tests.expectations.factory import NAMES, label_text

    store, plan = Store(), []
    for index in range(9):
        body = make_image_bytes(64, 48, "JPEG", seed=index)
        source = tmp_path / "raw" / f"img ({index}).jpg"
        source.parent.mkdir(exist_ok=True)
        source.write_bytes(body)
        plan.append(PlannedImage(
            split="train" if index < 6 else "val", file_name=f"img_{index}.jpg",
            source_key=source.name, source_uri=str(source), width=64, height=48,
            format="JPEG", orientation=1, sha256=hashlib.sha256(body).hexdigest(),
            label_text=label_text(index), source_bytes=len(body),
        ))  # fmt: skip
    dataset_uri = str(tmp_path / "datasets" / "demo")
    info = {"schema_version": 1, "name": "demo", "created_at": "2026-11-28T04:00:00+00:00",
            "parameters": {"min_train": 5, "min_val": 3}, "names": NAMES}  # fmt: skip
    publish_dataset(plan, NAMES, dataset_uri=dataset_uri, store=store, info=info)

    report = validate_frames(frames_from_dataset(dataset_uri, store), **SMALL)

    assert report.success, report.failures
    assert report.statistics["splits"]["val"]["images"] == 3
