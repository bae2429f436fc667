"""The explore flow end to end on a tiny folder, under a temporary Prefect server."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from flows.explore import explore, main

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("prefect_harness")]


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("raw-data")
    rng = np.random.default_rng(0)
    for i in range(5):
        pixels = rng.integers(0, 255, (30, 40, 3), dtype=np.uint8)
        image = Image.fromarray(pixels).resize((320, 240), Image.Resampling.BICUBIC)
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=90)
        (root / "site a").mkdir(exist_ok=True)
        (root / "site a" / f"img ({i}).jpg").write_bytes(buffer.getvalue())
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    return root


def test_second_explore_reprofiles_nothing(raw: Path, tmp_path: Path) -> None:
    first = explore(source=str(raw), report_dir=str(tmp_path / "one"), batch_size=2)
    assert first["images"] == 6 and first["quarantined"] == 1
    assert first["batches"] >= 2 and first["batches_cached"] == 0
    assert Path(first["report_uri"]).is_file() and Path(first["images_csv_uri"]).is_file()

    second = explore(source=str(raw), report_dir=str(tmp_path / "two"), batch_size=2)
    assert second["batches_cached"] == second["batches"] == first["batches"]
    assert second["flagged"] == first["flagged"]


def test_cli_prints_report_uri_last(
    raw: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cli"
    assert main(["--source", str(raw), "--report-dir", str(out)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1] == str(out / "report.html")


def test_explore_with_annotations_charts_the_labels_and_logs_to_mlflow(
    small_demo: Any, tmp_path: Path
) -> None:
    from mlflow.tracking import MlflowClient

    summary = explore(
        source=small_demo.source_uri,
        annotations=[small_demo.annotations_uri],
        report_dir=str(tmp_path / "report"),
    )
    assert summary["boxes"] > 0
    page = Path(summary["report_uri"]).read_text()
    assert "class" in page.lower()
    client = MlflowClient(summary["tracking_uri"])
    (run,) = client.search_runs(
        [client.get_experiment_by_name("drone-imagery-data-exploration").experiment_id]
    )
    assert run.data.metrics["images_found"] == small_demo.n_images
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "report")}
    assert "report/report.html" in artifacts and "report/images.csv" in artifacts


@pytest.mark.parametrize(
    "argv", [["--workers", "0"], ["--batch-size", "0"], ["--near-dup-distance", "64"]]
)
def test_cli_bad_configuration_exits_2(
    raw: Path, tmp_path: Path, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "never"
    assert main(["--source", str(raw), "--report-dir", str(out), *argv]) == 2
    assert "error:" in capsys.readouterr().err
    assert not out.exists()
