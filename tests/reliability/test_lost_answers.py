"""S3 applied a request but its answer was lost (500 after the write): retries must cope.

In-process moto handles a request before a ``before-send`` hook's answer replaces its
own, so an error returned by the hook models exactly that case.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

from tasks.publish_lock import DatasetLockedError, lock_uri, publish_lock
from tasks.retrying import _retry_on_transient, is_transient
from tasks.storage import Store


class _Raw:
    def stream(self, **_: Any) -> Any:
        yield b"<Error><Code>InternalError</Code><Message>try again</Message></Error>"


def _lose_first_answer(client: Any, operation: str) -> list[str]:
    """The first ``operation`` is applied by moto, then answered 500 InternalError."""
    seen: list[str] = []

    def before_send(request: Any, event_name: str, **_: Any) -> Any:
        if not event_name.endswith(f".{operation}"):
            return None
        seen.append(request.url)
        return AWSResponse(request.url, 500, {}, _Raw()) if len(seen) == 1 else None

    client.meta.events.register("before-send.s3.*", before_send)
    return seen


def test_lock_whose_create_answer_was_lost_is_still_ours(s3: Any) -> None:
    store = Store().use_client(s3)
    dataset = "s3://bucket/datasets/ds"
    sent = _lose_first_answer(s3, "PutObject")
    with publish_lock(dataset, store):
        assert len(sent) == 2  # the retried conditional PUT was refused: the lock was there
        assert store.exists(lock_uri(dataset))
        locked = pytest.raises(DatasetLockedError, match="being published by another run")
        with locked, publish_lock(dataset, store):
            pass
    assert not store.exists(lock_uri(dataset))  # released: it was ours


def _client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, "GetObject")


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (_client_error("AccessDenied"), False),
        (_client_error("NoSuchBucket"), False),
        (_client_error("InvalidAccessKeyId"), False),
        (FileNotFoundError("cannot list s3://b/p: bucket 'b' does not exist"), False),
        (PermissionError("cannot list s3://b/p: AccessDenied"), False),
        (DatasetLockedError("being published by another run"), False),
        (_client_error("SlowDown"), True),
        (_client_error("InternalError"), True),
        (ConnectionError("reset"), True),
    ],
)
def test_only_transient_errors_are_retried_by_tasks(error: Exception, transient: bool) -> None:
    class State:
        def result(self) -> None:
            raise error

    assert is_transient(error) is transient
    assert _retry_on_transient(None, None, State()) is transient
