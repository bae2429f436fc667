"""One publisher per dataset name; a dead holder's lock does not block a rerun."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tasks.publish_lock import DatasetLockedError, lock_uri, publish_lock
from tasks.storage import Store


def test_second_holder_fails_with_a_clear_message(tmp_path: Path) -> None:
    dataset = str(tmp_path / "ds")
    with (
        publish_lock(dataset, Store()),
        pytest.raises(DatasetLockedError, match="being published by another run"),
        publish_lock(dataset, Store()),
    ):
        pass
    assert not Path(lock_uri(dataset)).exists()


def test_lock_of_a_dead_process_is_taken_over(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dataset = str(tmp_path / "ds")
    holder = {"host": socket.gethostname(), "pid": int(dead.stdout), "token": "x", "since": 0}
    Path(lock_uri(dataset)).write_text(json.dumps(holder))
    with publish_lock(dataset, Store()):
        assert json.loads(Path(lock_uri(dataset)).read_text())["token"] != "x"


@pytest.mark.integration
def test_racing_publishers_on_s3_exactly_one_wins(s3: object) -> None:
    store = Store().use_client(s3)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def contender() -> None:
        barrier.wait()
        try:
            with publish_lock("s3://bucket/datasets/ds", store):
                outcomes.append("won")
                barrier.wait()  # hold the lock until the other has tried
        except DatasetLockedError:
            outcomes.append("locked")
            barrier.wait()

    threads = [threading.Thread(target=contender) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["locked", "won"]
