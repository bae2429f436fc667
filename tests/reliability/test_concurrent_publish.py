"""Two runs publishing different datasets to one name at once: one wins, none is mixed.

Two threads call ``publish_dataset`` with plans whose files have the same names and
different bytes, released together by a barrier, many rounds, locally and on (moto) S3.
The loser must fail with ``DatasetLockedError`` (the winner holds the lock) or
``DatasetExistsError`` (the winner already finished); every file under the name must
then match the winner's dataset_info.json.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tasks.layout import DATASET_INFO, PlannedImage
from tasks.publish import DatasetExistsError, publish_dataset
from tasks.publish_lock import DatasetLockedError, lock_uri
from tasks.storage import Store, join
from tests.conftest import make_image_bytes

N_IMAGES = 12
ROUNDS = 8


def _plan(run: str, raw_root: str, store: Store) -> list[PlannedImage]:
    """``N_IMAGES`` images named alike in both runs; bytes and labels differ by run."""
    plan = []
    for n in range(N_IMAGES):
        data = make_image_bytes(32, 24, seed=n + (0 if run == "a" else 100))
        uri = join(raw_root, run, f"img_{n}.jpg")
        store.write_bytes(uri, data)
        label = f"{0 if run == 'a' else 1} 0.500000 0.500000 0.250000 0.250000\n"
        split = "val" if n % 4 == 0 else "train"
        plan.append(
            PlannedImage(
                split,
                f"img_{n}.jpg",
                f"img_{n}.jpg",
                uri,
                32,
                24,
                "JPEG",
                1,
                hashlib.sha256(data).hexdigest(),
                label,
                len(data),
            )
        )
    return plan


def _race(plans: dict[str, list[PlannedImage]], dataset_uri: str, store: Store) -> dict[str, Any]:
    """Both publishes start together; each returns its info or the exception it raised."""
    barrier = threading.Barrier(len(plans))
    outcome: dict[str, Any] = {}

    def slow_progress(done: int, total: int) -> None:
        time.sleep(0.002)  # a publish of a real size takes a while: widen the race window

    def run(name: str) -> None:
        barrier.wait()
        try:
            outcome[name] = publish_dataset(
                plans[name],
                ["car", "truck"],
                dataset_uri=dataset_uri,
                store=store,
                info={"name": "race", "run": name},
                progress=slow_progress,
            )
        except (DatasetLockedError, DatasetExistsError) as error:
            outcome[name] = error

    threads = [threading.Thread(target=run, args=(name,)) for name in plans]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return outcome


def _atomic_moto_put(monkeypatch: pytest.MonkeyPatch) -> None:
    """S3 makes a conditional PUT atomic; in-process moto checks, then writes, unlocked, so
    two threads can both pass ``If-None-Match: *``. Serialize moto's PUT as S3 would."""
    from moto.s3.responses import S3Response

    original, lock = S3Response.put_object, threading.Lock()

    def put_object(self: Any) -> Any:
        with lock:
            return original(self)

    monkeypatch.setattr(S3Response, "put_object", put_object)


@pytest.mark.parametrize("where", ["local", "s3"])
def test_two_publishers_of_one_name_one_wins_never_mixed(
    where: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if where == "s3":
        _atomic_moto_put(monkeypatch)
        store, root = Store().use_client(request.getfixturevalue("s3")), "s3://bucket"
    else:
        store, root = Store(), str(tmp_path)
    plans = {run: _plan(run, join(root, "raw"), store) for run in ("a", "b")}
    losses: Counter[str] = Counter()
    for round_ in range(ROUNDS):
        dataset_uri = join(root, "datasets", f"race{round_}")
        outcome = _race(plans, dataset_uri, store)
        winners = [run for run, result in outcome.items() if isinstance(result, dict)]
        assert len(winners) == 1, outcome
        (loser,) = set(plans) - set(winners)
        error = outcome[loser]
        losses[type(error).__name__] += 1
        assert isinstance(error, DatasetLockedError | DatasetExistsError), error
        assert "being published by another run" in str(
            error
        ) or "already a complete dataset" in str(error)

        info = json.loads(store.read_bytes(join(dataset_uri, DATASET_INFO)))
        assert info["run"] == winners[0]
        listed = {obj.key: obj for obj in store.list(dataset_uri)}
        expected = {f["path"]: f["sha256"] for f in info["files"]}
        assert set(listed) == set(expected) | {DATASET_INFO}  # nothing extra, nothing missing
        for path, sha256 in expected.items():
            assert store.sha256(listed[path].uri) == sha256, path
        winner_images = {item.image_path: item.sha256 for item in plans[winners[0]]}
        assert {p: s for p, s in expected.items() if p in winner_images} == winner_images
        assert not store.exists(lock_uri(dataset_uri))  # the winner released its lock
    with capsys.disabled():
        print(
            f"\n[concurrent publish, {where}] {ROUNDS} races: one winner each, never mixed; "
            f"losers failed with {dict(losses)}"
        )
