"""The real ``prepare`` flow over a source that mixes the whole hostile corpus with good
images and good annotations in every format: it publishes, the good images are in the
dataset, and every hostile input is listed in dataset_info.json with its reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flows.prepare import main
from tasks.layout import DATASET_INFO, parse_label_line
from tests.hostile.corpus import CASES, IMAGE, READERS, write_source

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("prefect_harness")]


def test_prepare_publishes_the_good_inputs_and_lists_every_hostile_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    layout = write_source(tmp_path / "in")
    monkeypatch.chdir(tmp_path)
    args = ["--source", str(layout.source)]
    for reader in READERS:
        args += ["--annotations", str(layout.annotation_dirs[reader])]
    args += ["--group-by", "none", "--val-fraction", "0.3", "--min-train", "1", "--min-val", "1"]
    code = main([*args, "--name", "hostile"])
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 0, out[-20:]
    dataset = tmp_path / "datasets" / "hostile"
    info = json.loads((dataset / DATASET_INFO).read_text())

    published = {entry["source_key"] for entry in info["images"]}
    assert published == set(layout.good_keys)
    assert info["names"] == ["car"]
    for entry in info["images"]:
        lines = (dataset / entry["label"]).read_text().splitlines()
        assert len(lines) == 1
        parse_label_line(lines[0], entry["label"])

    quarantined = {q["key"]: q["reason"] for q in info["quarantined"]}
    problems = info["problems"]
    for case in CASES:
        if case.reader == IMAGE:
            key = f"hostile/{case.file_name}"
            assert case.rule in quarantined[key], (case.name, quarantined.get(key))
            continue
        where = str(layout.annotation_dirs[case.reader] / case.file_name) + case.place
        assert any(p["rule"] == case.rule and p["where"] == where for p in problems), case.name
    for key in layout.symlink_keys:
        where = str(layout.source / key)
        assert any(p["rule"] == "symlink-outside-root" and p["where"] == where for p in problems)
    for leak in layout.annotation_symlinks:
        assert any(
            p["rule"] == "symlink-outside-root" and p["where"] == str(leak) for p in problems
        )
    assert not any("root:x:0:0" in p["message"] for p in problems)  # /etc/passwd never read
