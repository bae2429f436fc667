"""Hostile and broken input, unit level: every case of the corpus is rejected or
quarantined with its rule and place, read straight through the readers and the decoder,
then as folders through discover, profile, read_annotations and resolve (no Prefect)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tasks.annotations import detect_format, read_annotations, resolve_boxes
from tasks.annotations.model import BadJsonError, as_number, load_json
from tasks.discover import discover_images
from tasks.layout import LabelLineError, parse_label_line
from tasks.profile import profile_images
from tasks.storage import Store
from tasks.tables import STATUS_OK, STATUS_QUARANTINED, Problem
from tests.hostile.corpus import CASES, IMAGE, NESTING_BOMB, READERS, Case, run_case, write_source

MIN_CASES = 40


def _matches(problem: Problem, case: Case, uri: str) -> bool:
    return problem.rule == case.rule and problem.where == uri + case.place


def test_corpus_covers_every_reader_and_the_decoder() -> None:
    assert len(CASES) >= MIN_CASES
    assert len({c.name for c in CASES}) == len(CASES)
    assert {c.reader for c in CASES} == {IMAGE, *READERS}
    for reader in READERS:  # file names are unique within each annotation folder
        names = [c.file_name for c in CASES if c.reader == reader]
        assert len(set(names)) == len(names), reader


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_each_hostile_input_is_rejected_with_its_rule_and_place(case: Case) -> None:
    result = run_case(case)
    if case.reader == IMAGE:
        assert isinstance(result, dict)
        assert result["status"] == STATUS_QUARANTINED
        assert case.rule in result["reason"], result["reason"]
        assert result["decodes"] is False
        return
    assert isinstance(result, list)
    assert any(_matches(p, case, case.file_name) for p in result), [
        (p.where, p.rule) for p in result
    ]


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return write_source(tmp_path_factory.mktemp("hostile"))


@pytest.fixture(scope="module")
def profiled(folders: Any) -> tuple[Any, list[Problem]]:
    images, problems = discover_images(str(folders.source), Store())
    return profile_images(images, Store()), problems


def test_discover_reports_symlinks_leaving_the_root_and_never_lists_them(
    folders: Any, profiled: tuple[Any, list[Problem]]
) -> None:
    images, problems = profiled
    assert not set(folders.symlink_keys) & set(images["key"])
    reported = {p.where: p.rule for p in problems}
    for key in folders.symlink_keys:
        assert reported[str(folders.source / key)] == "symlink-outside-root"


def test_profile_keeps_good_images_and_quarantines_each_hostile_one(
    folders: Any, profiled: tuple[Any, list[Problem]]
) -> None:
    images, _ = profiled
    status = dict(zip(images["key"], images["status"], strict=True))
    reason = dict(zip(images["key"], images["reason"], strict=True))
    assert all(status[key] == STATUS_OK for key in folders.good_keys)
    for case in (c for c in CASES if c.reader == IMAGE):
        key = f"hostile/{case.file_name}"
        assert status[key] == STATUS_QUARANTINED, key
        assert case.rule in reason[key], (key, reason[key])


@pytest.mark.parametrize("reader", READERS)
def test_a_folder_of_hostile_files_is_read_and_its_good_files_still_resolve(
    reader: str, folders: Any, profiled: tuple[Any, list[Problem]]
) -> None:
    images, _ = profiled
    folder = folders.annotation_dirs[reader]
    labels = read_annotations(str(folder), Store())
    boxes, covered, problems = resolve_boxes(labels, images, source_uri=str(folders.source))
    for case in (c for c in CASES if c.reader == reader):
        uri = str(folder / case.file_name)
        assert any(_matches(p, case, uri) for p in problems), (case.name, uri)
    for leak in folders.annotation_symlinks:
        if leak.parent == folder:
            assert any(p.where == str(leak) and p.rule == "symlink-outside-root" for p in problems)
    assert not any("root:x:0:0" in p.message for p in problems)  # /etc/passwd never read
    good = set(boxes["image_key"])
    assert good and good <= set(folders.good_keys)
    assert good <= covered
    assert set(boxes["class_name"]) == {"car"}


# -- regression tests for the crashes the corpus and the fuzzer found ----------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (NESTING_BOMB.decode(), "nested too deeply"),
        ('{"a": ' * 50_000 + "1" + "}" * 50_000, "nested too deeply"),
        ("9" * 5000, "4300"),
        ("{oops", "Expecting property name"),
        ("", "Expecting value"),
    ],
    ids=["array-nest", "object-nest", "5000-digits", "malformed", "empty"],
)
def test_load_json_turns_every_hostile_failure_into_bad_json(text: str, message: str) -> None:
    with pytest.raises(BadJsonError, match=message) as error:
        load_json(text)
    assert error.value.line_no >= 1


@pytest.mark.parametrize(
    ("value", "expected"),
    [(10**400, None), (-(10**400), None), ("1e400", None), (float("nan"), None), (3, 3.0)],
)
def test_as_number_refuses_ints_past_float_range(value: object, expected: float | None) -> None:
    assert as_number(value) == expected


@pytest.mark.parametrize(
    ("name", "data", "kind"),
    [
        ("a.json", NESTING_BOMB, None),
        ("a.manifest", NESTING_BOMB, "groundtruth"),
        ("a.json", b"9" * 5000, None),
        ("a.json", json.dumps({"images": [], "annotations": []}).encode(), "coco"),
    ],
)
def test_detect_format_survives_nesting_bombs(name: str, data: bytes, kind: str | None) -> None:
    assert detect_format(name, data) == kind


@pytest.mark.parametrize(
    "line",
    [
        "0 nan 0.5 0.1 0.1",
        "0 0.5 0.5 inf 0.1",
        "0 0.5 0.5 1e400 0.1",
        "nan 0.5 0.5 0.1 0.1",
        "inf 0.5 0.5 0.1 0.1",
        "-1 0.5 0.5 0.1 0.1",
        "1.5 0.5 0.5 0.1 0.1",
        "0 0.5\x00 0.5 0.1 0.1",
        "0 0x1p-2 0.5 0.1 0.1",
        "0 0.5 0.5 0.1",
        "0.5 " * 10_000,
        "",
    ],
)
def test_parse_label_line_rejects_hostile_lines(line: str) -> None:
    with pytest.raises(LabelLineError, match=r"^labels/x\.txt:7: "):
        parse_label_line(line, "labels/x.txt:7")


def test_unsafe_keys_in_an_s3_source_are_reported_never_read(s3: Any) -> None:
    for key in ("raw-data/good.jpg", "raw-data/a/../../etc/x.jpg", "raw-data//twice.jpg"):
        s3.put_object(Bucket="bucket", Key=key, Body=b"x")
    images, problems = discover_images("s3://bucket/raw-data/", Store().use_client(s3))
    assert images["key"].tolist() == ["good.jpg"]
    assert sorted(p.where for p in problems if p.rule == "unsafe-key") == [
        "s3://bucket/raw-data//twice.jpg",
        "s3://bucket/raw-data/a/../../etc/x.jpg",
    ]


def test_a_symlinked_folder_leaving_the_root_is_not_walked(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.jpg").write_bytes(b"x")
    source = tmp_path / "source"
    source.mkdir()
    (source / "linked").symlink_to(outside, target_is_directory=True)
    images, _ = discover_images(str(source), Store())
    assert images.empty
