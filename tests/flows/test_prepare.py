"""flows.prepare end to end: the CLI contract, local and S3 runs, real Ground Truth output."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from flows import prepare as prepare_module
from flows.prepare import main
from tasks.layout import DATASET_INFO, parse_label_line
from tasks.storage import Store

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("prefect_harness")]

SMALL = ["--min-train", "1", "--min-val", "1"]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in an empty folder, so ./datasets, ./reports and mlflow.db land in tmp_path."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str], str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out.strip().splitlines(), err


def test_demo_run_publishes_and_accounts_for_every_input(
    workdir: Path, small_demo: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--source", small_demo.source_uri, "--annotations", small_demo.annotations_uri]
    code, lines, _ = _run([*args, *SMALL, "--name", "demo_small"], capsys)
    assert code == 0, lines
    dataset = workdir / "datasets" / "demo_small"
    assert lines[-1] == str(dataset)
    for part in ("train/images", "train/labels", "val/images", "val/labels"):
        assert any((dataset / part).iterdir()), part
    data_yaml = yaml.safe_load((dataset / "data.yaml").read_text())
    assert "path" not in data_yaml
    assert data_yaml["names"] == dict(enumerate(sorted(small_demo.classes)))
    info = json.loads((dataset / DATASET_INFO).read_text())
    assert {q["key"] for q in info["quarantined"]} == set(small_demo.undecodable_keys)
    assert set(info["unlabeled"]) == set(small_demo.unlabeled_keys)
    rules = {p["rule"] for p in info["problems"]}
    assert {"gt-bad-json", "gt-failure-reason", "image-quarantined"} <= rules
    bad_line = next(
        d.manifest_line for d in small_demo.defects if d.kind == "malformed-manifest-line"
    )
    assert any(p["where"].endswith(f"output.manifest:{bad_line}") for p in info["problems"])
    published = {e["source_key"] for e in info["images"]}
    accounted = published | {q["key"] for q in info["quarantined"]} | set(info["unlabeled"])
    assert accounted == {
        p.relative_to(small_demo.source_uri).as_posix()
        for p in Path(small_demo.source_uri).rglob("*.*")
    }
    for entry in info["images"]:  # one label file per image, every line valid
        label = dataset / entry["label"]
        for n, line in enumerate(label.read_text().splitlines(), 1):
            class_id, *xywh = parse_label_line(line, f"{label}:{n}")
            assert 0 <= class_id < len(info["names"]) and all(0 <= v <= 1 for v in xywh)
    assert (dataset / "report.html").stat().st_size > 10_000
    assert info["mlflow_run_id"] and info["files_digest"]

    code, _, err = _run([*args, *SMALL, "--name", "demo_small"], capsys)
    assert code == 2 and "--overwrite" in err  # an existing dataset is refused before work


def test_gate_failure_exits_1_and_publishes_nothing(
    workdir: Path, small_demo: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--source", small_demo.source_uri, "--annotations", small_demo.annotations_uri]
    code, lines, _ = _run([*args, "--min-train", "100000", "--name", "too_small"], capsys)
    assert code == 1
    assert not (workdir / "datasets" / "too_small").exists()
    assert any("FAILED" in line for line in lines)
    assert any("100000" in line for line in lines)  # the failed rule says what was expected


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--name", "Bad Name!"], "--name"),
        (["--val-fraction", "1.5"], "--val-fraction"),
        (["--source", "gs://bucket/raw"], "unsupported URI scheme"),
        (["--group-by", "weekday"], "--group-by"),
        (["--annotations", "x.manifest"], "need a source"),
        (["--verification", "reject"], "--verification"),
    ],
)
def test_bad_arguments_exit_2_before_any_work(
    workdir: Path, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert list(workdir.iterdir()) == []  # nothing read or written


def test_s3_to_s3_matches_local_and_copies_server_side(
    workdir: Path,
    small_demo: Any,
    s3: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root = Path(small_demo.source_uri)
    for path in sorted(root.rglob("*.*")):
        s3.put_object(
            Bucket="bucket",
            Key=f"raw-data/{path.relative_to(root).as_posix()}",
            Body=path.read_bytes(),
        )
    s3.put_object(
        Bucket="bucket",
        Key="labels/output.manifest",
        Body=Path(small_demo.annotations_uri).read_bytes(),
    )
    image_reads: list[str] = []
    store = Store(region_name="us-east-1")
    store.s3.meta.events.register(
        "provide-client-params.s3.GetObject",
        lambda params, **_: image_reads.append(params["Key"]),
    )
    real_make_store = prepare_module.make_store
    monkeypatch.setattr(prepare_module, "make_store", lambda settings: store)
    s3_args = [
        "--source",
        "s3://bucket/raw-data/",
        "--annotations",
        "s3://bucket/labels/output.manifest",
        "--dest",
        "s3://bucket/datasets/",
    ]
    code, lines, _ = _run([*s3_args, *SMALL, "--name", "from_s3"], capsys)
    assert code == 0, lines
    assert lines[-1] == "s3://bucket/datasets/from_s3"
    assert not [k for k in image_reads if k.startswith("datasets/") and "/images/" in k]
    monkeypatch.setattr(prepare_module, "make_store", real_make_store)
    local_args = ["--source", small_demo.source_uri, "--annotations", small_demo.annotations_uri]
    assert _run([*local_args, *SMALL, "--name", "from_local"], capsys)[0] == 0

    local = workdir / "datasets" / "from_local"
    listed = s3.list_objects_v2(Bucket="bucket", Prefix="datasets/from_s3/")["Contents"]
    s3_files = {o["Key"].removeprefix("datasets/from_s3/") for o in listed}
    local_files = {p.relative_to(local).as_posix() for p in local.rglob("*") if p.is_file()}
    assert s3_files == local_files
    for key in sorted(f for f in s3_files if f.endswith(".txt")):
        body = s3.get_object(Bucket="bucket", Key=f"datasets/from_s3/{key}")["Body"].read()
        assert body == (local / key).read_bytes(), key


@pytest.mark.realdata
def test_real_ground_truth_manifest_pointing_at_another_bucket(
    workdir: Path, realdata: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gt = realdata / "sagemaker-gt-cat-labels"
    args = [
        "--source",
        str(gt / "res" / "input-images"),
        "--annotations",
        str(gt / "output.manifest"),
        *SMALL,
        "--name",
        "cats",
    ]
    code, lines, _ = _run(args, capsys)
    assert code == 0, lines
    dataset = workdir / "datasets" / "cats"
    info = json.loads((dataset / DATASET_INFO).read_text())
    label_of = {Path(e["source_key"]).name: dataset / e["label"] for e in info["images"]}
    assert sorted(label_of) == ["0001.jpg", "0002.jpg", "0003.jpg", "0004.jpg"]
    assert label_of["0001.jpg"].read_text() == ""  # empty annotations: a background image
    for line in (gt / "output.manifest").read_text().splitlines():
        record = json.loads(line)
        size = record["cat-ground-truth"]["image_size"][0]
        expected = sorted(
            (
                (a["left"] + a["width"] / 2) / size["width"],
                (a["top"] + a["height"] / 2) / size["height"],
                a["width"] / size["width"],
                a["height"] / size["height"],
            )
            for a in record["cat-ground-truth"]["annotations"]
        )
        label = label_of[record["source-ref"].rsplit("/", 1)[1]]
        got = sorted(
            tuple(parse_label_line(t, str(label))[1:]) for t in label.read_text().splitlines()
        )
        assert len(got) == len(expected)
        for got_box, expected_box in zip(got, expected, strict=True):
            assert got_box == pytest.approx(expected_box, abs=1e-6)
    assert sorted(info["unlabeled"]) == [f"{i:04d}.jpg" for i in range(5, 11)]


def test_tiled_demo_passes_the_gate_and_tiles_keep_their_frame_split(
    workdir: Path, small_demo: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--source", small_demo.source_uri, "--annotations", small_demo.annotations_uri]
    code, lines, _ = _run([*args, *SMALL, "--tile", "640", "--name", "tiled"], capsys)
    assert code == 0, lines
    info = json.loads((workdir / "datasets" / "tiled" / DATASET_INFO).read_text())
    tiles = [e for e in info["images"] if e["tile_of"]]
    assert tiles and all((e["width"], e["height"]) == (640, 640) for e in tiles)
    split_of_frame: dict[str, set[str]] = {}
    for entry in tiles:
        split_of_frame.setdefault(entry["tile_of"]["source_key"], set()).add(entry["split"])
    assert all(len(splits) == 1 for splits in split_of_frame.values())
    assert info["expectations"]["success"] is True
