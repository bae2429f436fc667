"""The integrity and digest suites: files match dataset_info.json's list, list its digest."""

from __future__ import annotations

import json

from tests.expectations.factory import failed_rules, finish_dataset

LABEL = "val/labels/img_0006.txt"


def test_file_whose_sha256_changed_is_rejected(dataset, store, check) -> None:
    finish_dataset(store, str(dataset))
    path = dataset / LABEL
    path.write_text(path.read_text().replace("0.500000", "0.500001", 1))

    report = check(dataset)

    assert failed_rules(report) == ["file-sha256"]
    assert f"1 files fail, e.g. {LABEL}" in report.failures[0]


def test_image_whose_bytes_changed_is_rejected(dataset, store, check) -> None:
    finish_dataset(store, str(dataset))
    path = dataset / "train/images/img_0003.jpg"
    body = bytearray(path.read_bytes())
    body[300] ^= 0xFF
    path.write_bytes(bytes(body))

    assert failed_rules(check(dataset)) == ["file-sha256"]


def test_file_whose_size_changed_is_rejected(dataset, store, check) -> None:
    finish_dataset(store, str(dataset))
    (dataset / LABEL).write_text("")

    assert failed_rules(check(dataset)) == ["file-size", "file-sha256"]


def test_file_removed_after_publishing_is_rejected(dataset, store, check) -> None:
    finish_dataset(store, str(dataset))
    (dataset / LABEL).unlink()

    rules = failed_rules(check(dataset))

    assert "file-missing" in rules
    assert "label-missing" in rules


def test_file_added_after_publishing_is_rejected(dataset, store, check) -> None:
    finish_dataset(store, str(dataset))
    (dataset / "notes.txt").write_text("hello")

    report = check(dataset)

    assert failed_rules(report) == ["file-unlisted"]
    assert "notes.txt" in report.failures[0]


def test_edited_file_list_breaks_the_digest(dataset, store, check) -> None:
    finish_dataset(store, str(dataset))
    info_path = dataset / "dataset_info.json"
    info = json.loads(info_path.read_text())
    info["files"][0]["bytes"] += 1
    info_path.write_text(json.dumps(info))

    rules = failed_rules(check(dataset))

    assert "files-digest" in rules
    assert "file-size" in rules


def test_unknown_schema_version_is_rejected(dataset, store, check) -> None:
    finish_dataset(store, str(dataset), schema_version=2)

    assert failed_rules(check(dataset)) == ["schema-version"]


def test_malformed_file_list_is_rejected_not_crashed(dataset, store, check) -> None:
    finish_dataset(store, str(dataset))
    info_path = dataset / "dataset_info.json"
    info = json.loads(info_path.read_text())
    info["files"] = [{"path": "data.yaml"}, "junk", {"path": 3, "bytes": "x", "sha256": None}]
    info_path.write_text(json.dumps(info))

    rules = failed_rules(check(dataset))

    assert "files-digest" in rules
    assert "file-unlisted" in rules
