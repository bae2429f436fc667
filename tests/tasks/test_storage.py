"""The storage interface over local paths and moto S3."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from tasks.storage import Store, UnsafeKeyError, check_key, join, normalize_uri, relative_key


@pytest.mark.parametrize(
    "key", ["", "/abs/x.jpg", "a/../b.jpg", "..", "a//b.jpg", "a/./b.jpg", "a\\b.jpg", "a/"]
)
def test_unsafe_keys_are_refused(key: str) -> None:
    with pytest.raises(UnsafeKeyError, match="unsafe key"):
        check_key(key)


def test_join_and_relative_key_round_trip(tmp_path: Path) -> None:
    uri = join(str(tmp_path), "flight 1", "img (1).jpg")
    assert relative_key(str(tmp_path), uri) == "flight 1/img (1).jpg"
    assert join("s3://b/raw-data/", "x/y.jpg") == "s3://b/raw-data/x/y.jpg"
    assert relative_key("s3://b/raw-data", "s3://b/raw-data/x/y.jpg") == "x/y.jpg"
    assert normalize_uri(f"file://{tmp_path}/a b.jpg") == f"{tmp_path}/a b.jpg"
    with pytest.raises(ValueError, match="unsupported URI scheme"):
        normalize_uri("gs://bucket/x")


def test_local_read_write_copy_list(tmp_path: Path) -> None:
    store = Store()
    store.write_bytes(str(tmp_path / "a" / "x.bin"), b"0123456789")
    store.copy(str(tmp_path / "a" / "x.bin"), str(tmp_path / "b" / "y.bin"))
    assert store.read_range(str(tmp_path / "b" / "y.bin"), 2, 3) == b"234"
    assert store.read_range(str(tmp_path / "b" / "y.bin"), 8, 10) == b"89"
    listed = list(store.list(str(tmp_path)))
    assert [o.key for o in listed] == ["a/x.bin", "b/y.bin"]
    assert all(o.size == 10 for o in listed)
    assert store.exists(str(tmp_path / "a" / "x.bin"))
    assert not store.exists(str(tmp_path / "nope"))
    assert list(store.list(str(tmp_path / "missing"))) == []


def test_local_listing_skips_symlinks_out_of_the_root(tmp_path: Path) -> None:
    outside = tmp_path / "outside.jpg"
    outside.write_bytes(b"secret")
    root = tmp_path / "root"
    root.mkdir()
    (root / "in.jpg").write_bytes(b"x")
    (root / "link.jpg").symlink_to(outside)
    assert [o.key for o in Store().list(str(root))] == ["in.jpg"]


def test_s3_listing_paginates_and_skips_folder_markers(s3: object) -> None:
    store = Store().use_client(s3)
    for i in range(1005):
        s3.put_object(Bucket="bucket", Key=f"raw-data/f/{i:04d}.jpg", Body=b"x")
    s3.put_object(Bucket="bucket", Key="raw-data/f/", Body=b"")
    keys = [o.key for o in store.list("s3://bucket/raw-data")]
    assert len(keys) == 1005
    assert keys[0] == "f/0000.jpg"
    assert store.list_prefixes("s3://bucket/raw-data/") == ["s3://bucket/raw-data/f"]


def test_s3_copy_is_server_side(s3: object) -> None:
    store = Store(sse="AES256").use_client(s3)
    s3.put_object(Bucket="bucket", Key="raw/a.jpg", Body=b"image-bytes")
    calls: list[str] = []
    s3.meta.events.register("before-call.s3.*", lambda model, **_: calls.append(model.name))
    store.copy("s3://bucket/raw/a.jpg", "s3://bucket/datasets/d/a.jpg")
    assert "GetObject" not in calls
    assert "CopyObject" in calls or "UploadPartCopy" in calls
    head = s3.head_object(Bucket="bucket", Key="datasets/d/a.jpg")
    assert head["ServerSideEncryption"] == "AES256"
    assert store.read_range("s3://bucket/datasets/d/a.jpg", 0, 5) == b"image"


def test_store_pickles_without_its_client(s3: object) -> None:
    store = Store(region_name="us-east-1").use_client(s3)
    clone = pickle.loads(pickle.dumps(store))
    assert clone.region_name == "us-east-1"
    assert clone._client is None
