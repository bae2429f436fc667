"""SIGKILL ``python -m flows.prepare`` at stage boundaries and inside publish, twenty times.

One command (``--overwrite``, so a complete dataset is replaced by the next run) is run
again and again in a subprocess against one shared Prefect server. Each run is killed at a
chosen moment: when its log says a stage finished, or when the dataset folder holds a
chosen number of files (publish writes dataset_info.json last). After every kill:

- ``flows.discover`` lists the name only when the dataset there is whole (every file of
  its dataset_info.json present, with that size and sha256, and nothing else);
- otherwise ``flows.validate`` on the prefix says it is incomplete;

and now and then the same command runs to the end: the dataset is complete, its objects
are exactly dataset_info.json's files, none duplicated, and the stale lock of the killed
run was taken over.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from flows import validate as validate_module
from flows.discover import list_datasets
from tasks.layout import DATASET_INFO
from tasks.publish_lock import lock_uri
from tasks.storage import Store
from tests.integration.conftest import prefect_api_url  # noqa: F401 (a session fixture)

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
NAME = "crashy"
STAGES = (  # task names whose "Finished" line is a stage boundary, in flow order
    "discover-images",
    "profile-batch",
    "read-annotations",
    "assign-splits",
    "write-report",
    "plan-dataset",
    "expectations-gate",
)
PUBLISH_KILLS = 13
COMPLETE_AFTER = {7, 11, 15, 20}  # after these kills the command is run to the end
FINISHED = re.compile(r"Task run '(?P<task>[a-z-]+)-[0-9a-f]+' - Finished in state")


class Run:
    """One ``python -m flows.prepare`` child; its output lines are read in a thread."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.lines: list[str] = []
        self.finished: set[str] = set()
        self.started_ns = time.time_ns()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "flows.prepare", *args],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip())
            if match := FINISHED.search(line):
                self.finished.add(match["task"])

    def kill_when(self, ready: Any, timeout_s: float = 120.0) -> bool:
        """SIGKILL as soon as ``ready()``; False when the run ended first."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if ready():
                self.process.send_signal(signal.SIGKILL)
                self.process.wait()
                self._reader.join(10)
                return True
            if self.process.poll() is not None:
                self._reader.join(10)
                return False
            time.sleep(0.002)
        self.process.kill()
        raise AssertionError("run neither reached its kill point nor ended:\n" + self.tail())

    def wait(self, timeout_s: float = 180.0) -> int:
        code = self.process.wait(timeout_s)
        self._reader.join(10)
        return code

    def tail(self, n: int = 25) -> str:
        return "\n".join(self.lines[-n:])


def _files(dataset: Path) -> list[Path]:
    return [p for p in dataset.rglob("*") if p.is_file()] if dataset.is_dir() else []


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _contents(dataset: Path) -> dict[str, str]:
    """sha256 of each file but dataset_info.json and report.html (both hold the run time)."""
    skip = {DATASET_INFO, "report.html"}
    return {
        p.relative_to(dataset).as_posix(): _sha256(p)
        for p in _files(dataset)
        if p.relative_to(dataset).as_posix() not in skip
    }


def _assert_whole(dataset: Path) -> dict[str, Any]:
    """dataset_info.json's files are exactly what is there, byte for byte."""
    info = json.loads((dataset / DATASET_INFO).read_text())
    present = sorted(p.relative_to(dataset).as_posix() for p in _files(dataset))
    listed = sorted(f["path"] for f in info["files"])
    assert present == sorted([*listed, DATASET_INFO])  # nothing missing, extra or duplicated
    assert len(listed) == len(set(listed))
    for entry in info["files"]:
        path = dataset / entry["path"]
        assert path.stat().st_size == entry["bytes"] and _sha256(path) == entry["sha256"], path
    return info


def _check_after_kill(dest: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """Discover lists the name only if whole; else validate says incomplete. Returns which."""
    dataset = dest / NAME
    listed = [s.name for s in list_datasets(str(dest), Store())]
    if NAME in listed:
        _assert_whole(dataset)
        return "listed-whole"
    code = validate_module.main([str(dataset), "--min-train", "1", "--min-val", "1"])
    out, err = capsys.readouterr()
    if not _files(dataset):
        assert code == 2 and "no dataset at" in err, (code, out, err)
        return "nothing-there"
    assert code == 1 and "dataset_info.json is missing: the dataset is incomplete" in out, out
    return "incomplete"


@pytest.fixture
def child_env(prefect_api_url: str, tmp_path: Path) -> dict[str, str]:  # noqa: F811
    home = tmp_path / "prefect-home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "AWS_"))}
    return env | {
        "PREFECT_API_URL": prefect_api_url,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "GX_ANALYTICS_ENABLED": "false",
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        "PYTHONPATH": str(ROOT),
    }


def _kill_plan(rng: random.Random, n_files: int) -> list[tuple[str, Any]]:
    """Seven stage boundaries, then thirteen points inside publish (a file count)."""
    plan: list[tuple[str, Any]] = [("stage", stage) for stage in STAGES]
    counts = [*rng.sample(range(1, n_files), PUBLISH_KILLS - 1), n_files - 1]
    plan += [("publish", count) for count in counts]  # the last: all but dataset_info.json
    return plan


def test_sigkill_at_stage_boundaries_and_inside_publish(
    small_demo: Any, child_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = tmp_path / "datasets"
    dataset = dest / NAME
    args = [
        "--source", small_demo.source_uri, "--annotations", small_demo.annotations_uri,
        "--dest", str(dest), "--name", NAME, "--min-train", "1", "--min-val", "1", "--overwrite",
    ]  # fmt: skip
    started = time.monotonic()
    first = Run(args, tmp_path, child_env)
    assert first.wait() == 0, first.tail()
    n_files = len(_assert_whole(dataset)["files"]) + 1
    reference = _contents(dataset)

    rng = random.Random(20261128)
    outcomes: Counter[str] = Counter()
    kills, completions, missed = 0, 0, 0
    for kind, point in _kill_plan(rng, n_files):
        run = Run(args, tmp_path, child_env)
        if kind == "stage":
            killed = run.kill_when(lambda run=run, point=point: point in run.finished)
        else:
            # inside publish: once the gate passed, when `point` files were written by it
            def ready(run: Run = run, point: int = point) -> bool:
                if "expectations-gate" not in run.finished:
                    return False
                written = [p for p in _files(dataset) if p.stat().st_mtime_ns >= run.started_ns]
                return len(written) >= point

            killed = run.kill_when(ready)
        if not killed:
            missed += 1
            assert run.process.returncode == 0, run.tail()
            continue
        kills += 1
        outcomes[f"{kind}:{_check_after_kill(dest, capsys)}"] += 1
        if kills in COMPLETE_AFTER:
            rerun = Run(args, tmp_path, child_env)
            assert rerun.wait() == 0, rerun.tail()
            completions += 1
            _assert_whole(dataset)
            assert _contents(dataset) == reference  # the same dataset, resumed or replaced
            assert not Path(lock_uri(str(dataset))).exists()
            assert any("taking over a stale publish lock" in line for line in rerun.lines) or (
                kind == "stage"
            )
    elapsed_s = time.monotonic() - started
    with capsys.disabled():
        print(
            f"\n[crash safety] runs killed {kills} (missed {missed}), reruns completed "
            f"{completions}, in {elapsed_s:.0f} s; after each kill: {dict(outcomes)}"
        )
    assert kills >= 20 - missed and kills >= 18
    assert completions == len(COMPLETE_AFTER)
