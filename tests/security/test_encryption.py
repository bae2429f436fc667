"""Server-side encryption applies to every way Store writes an S3 object.

The flow-level check (a prepare run with ``DRONEPREP_SSE=aws:kms``: every published object
is encrypted with the configured key) is in ``test_no_secrets_leak.py``, on the same run.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest

from tasks.settings import Settings, make_store
from tasks.storage import Store

pytestmark = pytest.mark.usefixtures("aws_env")

WRITES: dict[str, Callable[[Store, Path], None]] = {
    "put": lambda store, _: store.write_bytes("s3://bucket/datasets/d/put.txt", b"x"),
    "conditional-create": lambda store, _: store.create_exclusive(
        "s3://bucket/datasets/d.publish-lock", b"{}"
    ),
    "server-side-copy": lambda store, _: store.copy(
        "s3://bucket/raw-data/a.jpg", "s3://bucket/datasets/d/train/images/a.jpg"
    ),
    "upload-of-a-local-file": lambda store, tmp: store.copy(
        str(tmp / "local.txt"), "s3://bucket/datasets/d/report.html"
    ),
}


def _kms_key() -> str:
    return boto3.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["Arn"]


@pytest.mark.parametrize("write", sorted(WRITES))
@pytest.mark.parametrize("sse", ["AES256", "aws:kms"])
def test_every_write_path_encrypts_with_the_configured_setting(
    s3: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, write: str, sse: str
) -> None:
    key_arn = _kms_key() if sse == "aws:kms" else None
    monkeypatch.setenv("DRONEPREP_SSE", sse)
    if key_arn:
        monkeypatch.setenv("DRONEPREP_SSE_KMS_KEY_ID", key_arn)
    s3.put_object(Bucket="bucket", Key="raw-data/a.jpg", Body=b"jpeg")  # unencrypted source
    (tmp_path / "local.txt").write_text("report")
    store = make_store(Settings())  # what the flows build: SSE from DRONEPREP_SSE*
    before = {o["Key"] for o in s3.list_objects_v2(Bucket="bucket").get("Contents", [])}

    WRITES[write](store, tmp_path)

    listed = s3.list_objects_v2(Bucket="bucket")["Contents"]
    (written,) = [o["Key"] for o in listed if o["Key"] not in before]
    head = s3.head_object(Bucket="bucket", Key=written)
    assert head["ServerSideEncryption"] == sse
    assert head.get("SSEKMSKeyId") == key_arn


def test_without_sse_settings_nothing_is_requested(
    s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DRONEPREP_SSE", raising=False)
    monkeypatch.delenv("DRONEPREP_SSE_KMS_KEY_ID", raising=False)
    requested: list[dict[str, Any]] = []
    store = make_store(Settings())
    store.s3.meta.events.register(
        "before-parameter-build.s3.PutObject", lambda params, **_: requested.append(params)
    )
    store.write_bytes("s3://bucket/datasets/d/x.txt", b"x")
    assert requested and "ServerSideEncryption" not in requested[0]
