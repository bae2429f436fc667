"""prepare from S3 to S3 under injected S3 faults: same dataset, retries shown; no storms.

Moto in-process S3; ``tests.s3faults.S3FaultInjector`` fails a share of the Store's S3
calls the way S3 fails under load. botocore (standard mode, 10 attempts) retries the failed
requests and logs each retry at DEBUG; the Store re-reads a body cut mid-read and logs a
WARNING. Both are counted from the log.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flows import prepare as prepare_module
from flows.prepare import main
from tasks.layout import DATASET_INFO
from tasks.storage import Store
from tests.s3faults import S3FaultInjector, scale_backoff

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("prefect_harness")]

SMALL = ["--min-train", "1", "--min-val", "1"]
RUN_SPECIFIC = ("created_at", "mlflow_run_id")


class _Count(logging.Handler):
    """Counts the retry lines of botocore and of the Store's body re-reads."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.retries = 0
        self.rereads = 0

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("Retry needed"):
            self.retries += 1
        elif "body read broke off" in message:
            self.rereads += 1


@pytest.fixture
def counted() -> Any:
    handler = _Count()
    loggers = [logging.getLogger("botocore.retries.standard"), logging.getLogger("tasks.storage")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    yield handler
    for logger, level in zip(loggers, levels, strict=True):
        logger.removeHandler(handler)
        logger.setLevel(level)


@pytest.fixture
def raw_in_s3(s3: Any, small_demo: Any) -> Any:
    root = Path(small_demo.source_uri)
    for path in sorted(root.rglob("*.*")):
        key = f"raw-data/{path.relative_to(root).as_posix()}"
        s3.put_object(Bucket="bucket", Key=key, Body=path.read_bytes())
    manifest = Path(small_demo.annotations_uri).read_bytes()
    s3.put_object(Bucket="bucket", Key="labels/output.manifest", Body=manifest)
    return s3


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty folder, and no cached task results: every run reads every image through
    its own (faulty) client."""
    from prefect.settings import PREFECT_TASKS_REFRESH_CACHE, temporary_settings

    monkeypatch.chdir(tmp_path)
    with temporary_settings(updates={PREFECT_TASKS_REFRESH_CACHE: True}):
        yield tmp_path


def _prepare(store: Store, dest: str, monkeypatch: pytest.MonkeyPatch, *extra: str) -> int:
    monkeypatch.setattr(prepare_module, "make_store", lambda settings: store)
    args = [
        "--source",
        "s3://bucket/raw-data/",
        "--annotations",
        "s3://bucket/labels/output.manifest",
    ]
    return main([*args, "--dest", dest, *SMALL, "--name", "drone", *extra])


def _dataset(s3: Any, prefix: str) -> tuple[dict[str, bytes], dict[str, Any]]:
    """Every object under the prefix (bytes), and dataset_info.json without run fields."""
    objects = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket="bucket", Prefix=prefix):
        for obj in page.get("Contents", []):
            body = s3.get_object(Bucket="bucket", Key=obj["Key"])["Body"].read()
            objects[obj["Key"].removeprefix(prefix)] = body
    info = json.loads(objects.pop(DATASET_INFO))
    info["parameters"].pop("dest")  # the two runs publish under different prefixes
    return objects, {k: v for k, v in info.items() if k not in RUN_SPECIFIC}


@pytest.mark.usefixtures("workdir")
def test_prepare_under_s3_faults_publishes_the_same_dataset(
    raw_in_s3: Any,
    counted: _Count,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert _prepare(Store(region_name="us-east-1"), "s3://bucket/clean/", monkeypatch) == 0
    clean_files, clean_info = _dataset(raw_in_s3, "clean/drone/")
    assert counted.retries == counted.rereads == 0

    scale_backoff(monkeypatch)
    for rate in (0.1, 0.3):
        counted.retries = counted.rereads = 0
        faulty = Store(region_name="us-east-1")
        injector = S3FaultInjector(faulty.s3, rate, seed=int(rate * 100))
        dest = f"faulty{rate * 100:.0f}"
        assert _prepare(faulty, f"s3://bucket/{dest}/", monkeypatch) == 0
        faulty_files, faulty_info = _dataset(raw_in_s3, f"{dest}/drone/")

        failed = sum(injector.injected.values())
        with capsys.disabled():
            print(
                f"\n[s3 faults {rate:.0%}] {injector.report()}; calls failed {failed}, "
                f"retries made {counted.retries} by botocore + {counted.rereads} body re-reads"
            )
        assert failed > 0 and injector.injected["truncated-body"] > 0
        # every failed request was retried (a cut body is read again by the Store)
        assert counted.retries == failed - injector.injected["truncated-body"]
        assert counted.rereads == injector.injected["truncated-body"]
        assert sorted(faulty_files) == sorted(clean_files)
        for path, data in clean_files.items():
            assert faulty_files[path] == data, path
        assert faulty_info["files"] == clean_info["files"]
        assert faulty_info["files_digest"] == clean_info["files_digest"]
        assert faulty_info == clean_info


class _Calls:
    """Counts the requests sent to one bucket; answers them 403 AccessDenied if asked."""

    def __init__(self, client: Any, bucket: str, *, deny: bool) -> None:
        self.bucket, self.deny, self.sent = bucket, deny, Counter()
        client.meta.events.register("before-send.s3.*", self._before_send)

    def _before_send(self, request: Any, event_name: str, **_: Any) -> Any:
        host_and_path = request.url.split("://", 1)[1]
        if not host_and_path.startswith((f"{self.bucket}.", f"s3.amazonaws.com/{self.bucket}")):
            return None
        self.sent[event_name.rsplit(".", 1)[1]] += 1
        if not self.deny:
            return None
        from botocore.awsrequest import AWSResponse

        body = (
            b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code>'
            b"<Message>Access Denied</Message></Error>"
        )
        return AWSResponse(request.url, 403, {}, _Body(body))


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Any:
        yield self._data


@pytest.mark.parametrize(
    "case", [("denied-bucket", True, "AccessDenied"), ("no-such-bucket", False, "NoSuchBucket")]
)
@pytest.mark.usefixtures("workdir")
def test_non_transient_s3_errors_fail_fast_without_retries(
    case: tuple[str, bool, str],
    raw_in_s3: Any,
    counted: _Count,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bucket, deny, code = case
    store = Store(region_name="us-east-1")
    calls = _Calls(store.s3, bucket, deny=deny)
    monkeypatch.setattr(prepare_module, "make_store", lambda settings: store)
    args = ["--source", f"s3://{bucket}/raw-data/", "--annotations", "s3://bucket/labels/x"]
    started = time.monotonic()
    exit_code = main([*args, "--dest", "s3://bucket/datasets/", *SMALL, "--name", "drone"])
    elapsed_s = time.monotonic() - started
    err = capsys.readouterr().err
    with capsys.disabled():
        print(
            f"\n[{code}] requests sent {dict(calls.sent)}, retries made {counted.retries}, "
            f"failed after {elapsed_s:.1f} s: {err.strip()}"
        )
    assert exit_code != 0
    assert code in err and bucket in err, err
    assert dict(calls.sent) == {"ListObjectsV2": 1}  # one attempt: no botocore or task retries
    assert counted.retries == 0
    assert not raw_in_s3.list_objects_v2(Bucket="bucket", Prefix="datasets/").get("KeyCount")
