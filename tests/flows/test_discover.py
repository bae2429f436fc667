"""Discover: complete datasets newest first, incomplete prefixes apart, cheap on S3."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from flows.discover import HEAD_BYTES, leading_fields, list_datasets, read_summary
from tasks.layout import dataset_info_text
from tasks.storage import Store


def _info(name: str, created_at: str, n_images: int = 0) -> str:
    info = {
        "schema_version": 1,
        "name": name,
        "created_at": created_at,
        "source_uri": "s3://bucket/raw-data/",
        "annotation_uris": [],
        "parameters": {"seed": 42},
        "names": ["car", "person"],
        "splits": {
            "train": {"images": 120, "instances": 300},
            "val": {"images": 55, "instances": 140},
        },
        "class_instances": {"car": 400, "person": 40},
        "images": [
            {"file": f"train/images/{i:06d}.jpg", "split": "train"} for i in range(n_images)
        ],
    }
    return dataset_info_text(info)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '{"name": "a", "created_at": "t", "names": [], "splits": {}}',
            {"name": "a", "created_at": "t", "names": [], "splits": {}},
        ),
        (
            '{"name": "a", "created_at": "t", "names": ["x"], "splits": {}, "images": [1, 2',
            {"name": "a", "created_at": "t", "names": ["x"], "splits": {}},
        ),
        ('{"name": "a", "created_at": "t", "names": ["x", "y"', None),
        (
            '  {\n  "images": [1, 2], "name": "a" ,"created_at":"t","names":[],"splits":{}}',
            {"images": [1, 2], "name": "a", "created_at": "t", "names": [], "splits": {}},
        ),
        ('{"name": "a"}', {"name": "a"}),
        ("{}", {}),
        ("", None),
    ],
)
def test_leading_fields_reads_until_the_summary_is_known(text, expected) -> None:
    wanted = ("name", "created_at", "names", "splits")
    if text == "":
        with pytest.raises(ValueError, match="not a JSON object"):
            leading_fields(text, wanted)
        return
    assert leading_fields(text, wanted) == expected


def test_local_root_lists_complete_newest_first_and_incomplete_apart(tmp_path: Path) -> None:
    for name, created in [("old", "2026-01-01T00:00:00Z"), ("new", "2026-11-28T00:00:00Z")]:
        (tmp_path / name).mkdir()
        (tmp_path / name / "dataset_info.json").write_text(_info(name, created))
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "data.yaml").write_text("nc: 0\n")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "dataset_info.json").write_text("[1, 2]")

    store = Store()
    found = list_datasets(str(tmp_path), store)
    everything = list_datasets(str(tmp_path), store, include_incomplete=True)

    assert [s.name for s in found] == ["new", "old", "broken"]
    assert found[0].images == {"train": 120, "val": 55}
    assert found[0].instances == {"train": 300, "val": 140}
    assert found[0].classes == ["car", "person"]
    assert found[2].error == "dataset_info.json is not a JSON object"
    assert [(s.name, s.complete) for s in everything][-1] == ("half", False)
    assert list_datasets(str(tmp_path / "nothing-here"), store) == []


def test_a_large_dataset_info_is_read_only_at_its_head(tmp_path: Path) -> None:
    (tmp_path / "big").mkdir()
    text = _info("big", "2026-11-28T00:00:00Z", n_images=20_000)
    (tmp_path / "big" / "dataset_info.json").write_text(text)
    assert len(text) > 10 * HEAD_BYTES

    summary = read_summary(str(tmp_path / "big"), Store())

    assert summary.complete
    assert summary.images == {"train": 120, "val": 55}


@pytest.mark.integration
def test_discover_on_s3_with_2500_datasets_lists_complete_newest_first(s3) -> None:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    # seed moto's store directly: 2,500 PutObject calls through botocore take ~15 s
    backend = s3_backends[DEFAULT_ACCOUNT_ID]["global"]
    started = time.perf_counter()
    expected_complete = []
    for index in range(2500):
        name = f"ds_{index:05d}"
        if index % 10 == 3:  # every tenth dataset is incomplete: no dataset_info.json
            backend.put_object("bucket", f"datasets/{name}/data.yaml", b"nc: 1\n")
            continue
        created = f"2026-{1 + index % 12:02d}-{1 + index % 28:02d}T{index % 24:02d}:00:00Z"
        body = _info(name, created).encode()
        backend.put_object("bucket", f"datasets/{name}/dataset_info.json", body)
        expected_complete.append((created, name))
    s3.put_object(Bucket="bucket", Key="datasets/README.txt", Body=b"not a dataset")
    put_seconds = time.perf_counter() - started

    calls: list[str] = []
    s3.meta.events.register("before-call.s3.*", lambda model, **_: calls.append(model.name))
    started = time.perf_counter()
    found = list_datasets("s3://bucket/datasets/", Store().use_client(s3), include_incomplete=True)
    list_seconds = time.perf_counter() - started

    complete = [s for s in found if s.complete]
    incomplete = [s for s in found if not s.complete]
    expected_complete.sort(key=lambda item: item[1])
    expected_complete.sort(key=lambda item: item[0], reverse=True)
    assert [s.name for s in complete] == [name for _, name in expected_complete]
    assert len(complete) == 2250
    assert len(incomplete) == 250
    assert all(s.name.endswith("3") for s in incomplete)
    assert complete[0].created_at >= complete[-1].created_at
    # 3 LIST pages (1,000 prefixes each) and one GET per dataset prefix: nothing else
    assert calls.count("ListObjectsV2") == 3
    assert calls.count("GetObject") == 2500
    assert len(calls) == 2503
    print(f"\n2,500 datasets on moto: put {put_seconds:.1f} s, discover {list_seconds:.1f} s")
    json.dumps([s.as_dict() for s in found])


def test_command_line_prints_a_table_or_json(tmp_path: Path, capsys) -> None:
    from flows.discover import main

    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "dataset_info.json").write_text(_info("a", "2026-11-28T01:00:00Z"))
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "data.yaml").write_text("nc: 0\n")

    assert main(["--root", str(tmp_path)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0] == f"1 complete dataset(s) under {tmp_path}, newest first:"
    assert "train=120 val=55" in table[1]
    assert "classes=car,person" in table[1]
    assert len(table) == 2

    assert main(["--root", str(tmp_path), "--json", "--all"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [d["name"] for d in doc["datasets"]] == ["a"]
    assert [d["name"] for d in doc["incomplete"]] == ["b"]

    assert main(["--root", "ftp://nowhere"]) == 2
