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

import contextlib
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
COMPLETE_AFTER_PUBLISH_KILLS = {4, 8, 13}  # then the command is run to the end
FINISHED = re.compile(r"Task run '(?P<task>[a-z-]+)-[0-9a-f]+' - Finished in state")


class Run:
    """One ``python -m flows.prepare`` child; its output lines are read in a thread."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.lines: list[str] = []
        self.finished: set[str] = set()
        self.started_ns = time.time_ns()
        self.args_seed = int(args[args.index("--seed") + 1]) if "--seed" in args else None
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


def _written_since(dataset: Path, since_ns: int) -> int:
    """Files under ``dataset`` modified since ``since_ns`` (files may vanish meanwhile)."""
    count = 0
    for folder, _, names in os.walk(dataset):
        for name in names:
            with contextlib.suppress(FileNotFoundError):  # a temporary file renamed meanwhile
                count += Path(folder, name).stat().st_mtime_ns >= since_ns
    return count


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _contents(dataset: Path) -> dict[str, str]:
    """sha256 of each file but dataset_info.json (it holds the run's time and ids)."""
    skip = {DATASET_INFO}
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


class Campaign:
    """Runs the one command again and again, killing or completing it; keeps the counts."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str], dest: Path) -> None:
        self.args, self.cwd, self.env, self.dest = args, cwd, env, dest
        self.dataset = dest / NAME
        self.outcomes: Counter[str] = Counter()
        self.kills = self.missed = self.completions = 0
        self.lock_left = False
        self.reference: dict[str, str] | None = None
        self.started = time.monotonic()
        self.runs: list[Run] = []

    def run(self) -> Run:
        self.runs.append(Run(self.args, self.cwd, self.env))
        return self.runs[-1]

    def close(self) -> None:
        """Kill a run still going (a failed assertion or an interrupt), not leave it behind."""
        for run in self.runs:
            if run.process.poll() is None:
                run.process.kill()
                run.process.wait()

    def kill(self, kind: str, point: Any, capsys: pytest.CaptureFixture[str]) -> None:
        """One run, SIGKILLed when stage ``point`` finished or publish wrote ``point`` files."""
        run = self.run()

        def ready() -> bool:
            if kind == "stage":
                return point in run.finished
            return (  # inside publish: the gate passed and `point` files are new
                "expectations-gate" in run.finished
                and _written_since(self.dataset, run.started_ns) >= point
            )

        if not run.kill_when(ready):
            self.missed += 1
            self.lock_left = False
            assert run.process.returncode == 0, run.tail()
            return
        self.kills += 1
        self.lock_left = kind == "publish"
        outcome = _check_after_kill(self.dest, capsys)
        self.outcomes[f"{kind}:{outcome}"] += 1
        with capsys.disabled():
            elapsed_s = time.monotonic() - self.started
            print(f"\n  kill {self.kills}: {kind} {point}: {outcome} ({elapsed_s:.0f}s)")

    def complete(self) -> int:
        """Rerun to the end; the dataset is whole and the same each time. Its file count."""
        rerun = self.run()
        assert rerun.wait() == 0, rerun.tail()
        self.completions += 1
        info = _assert_whole(self.dataset)
        contents = _contents(self.dataset)
        self.reference = self.reference or contents
        assert contents == self.reference  # the same dataset, resumed or replaced
        assert not Path(lock_uri(str(self.dataset))).exists()
        if self.lock_left:
            assert any("taking over a stale publish lock" in line for line in rerun.lines)
        return len(info["files"]) + 1


def test_sigkill_at_stage_boundaries_and_inside_publish(
    small_demo: Any, child_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = tmp_path / "datasets"
    args = [
        "--source", small_demo.source_uri, "--annotations", small_demo.annotations_uri,
        "--dest", str(dest), "--name", NAME, "--min-train", "1", "--min-val", "1", "--overwrite",
    ]  # fmt: skip
    campaign = Campaign(args, tmp_path, child_env, dest)
    try:
        for stage in STAGES:  # from nothing: seven kills, then a rerun that completes
            campaign.kill("stage", stage, capsys)
        n_files = campaign.complete()

        rng = random.Random(20261128)  # then thirteen kills inside publish, replacing it
        counts = [*rng.sample(range(1, n_files), PUBLISH_KILLS - 1), n_files - 1]
        for n, count in enumerate(counts, start=1):
            campaign.kill("publish", count, capsys)
            if n in COMPLETE_AFTER_PUBLISH_KILLS:
                campaign.complete()
    finally:
        campaign.close()
    with capsys.disabled():
        print(
            f"\n[crash safety] runs killed {campaign.kills} (ended before the kill point "
            f"{campaign.missed}), reruns completed {campaign.completions}, in "
            f"{time.monotonic() - campaign.started:.0f} s; after each kill: "
            f"{dict(campaign.outcomes)}"
        )
    assert campaign.kills + campaign.missed == len(STAGES) + PUBLISH_KILLS
    assert campaign.kills >= 18 and campaign.outcomes["publish:incomplete"] >= 11
    assert campaign.completions == 1 + len(COMPLETE_AFTER_PUBLISH_KILLS)


def test_two_prepare_processes_racing_for_one_name(
    small_demo: Any, child_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Started together: one publishes, the other exits 2 saying why; the dataset is whole."""
    dest = tmp_path / "datasets"
    args = [
        "--source", small_demo.source_uri, "--annotations", small_demo.annotations_uri,
        "--dest", str(dest), "--name", NAME, "--min-train", "1", "--min-val", "1",
    ]  # fmt: skip
    workdirs = [tmp_path / "a", tmp_path / "b"]  # each its own MLflow sqlite file: two
    for workdir in workdirs:  # processes creating one mlflow.db at once can fail its migration
        workdir.mkdir()
    runs = [
        Run(
            [*args, "--seed", str(n), "--tracking-uri", f"sqlite:///{cwd}/mlflow.db"],
            cwd,
            child_env,
        )
        for n, cwd in enumerate(workdirs, 1)
    ]
    try:
        codes = sorted(run.wait() for run in runs)
    finally:
        for run in runs:
            if run.process.poll() is None:
                run.process.kill()
    assert codes == [0, 2], [run.tail() for run in runs]
    loser = next(run for run in runs if run.process.returncode == 2)
    message = next(line for line in loser.lines if line.startswith("error:"))
    assert "being published by another run" in message or "already a complete dataset" in message
    info = _assert_whole(dest / NAME)  # never mixed: every file is the winner's
    winner_seed = next(run for run in runs if run.process.returncode == 0).args_seed
    assert info["parameters"]["seed"] == winner_seed
    with capsys.disabled():
        print(f"\n[concurrent prepare processes] exit codes {codes}; the loser: {message}")
