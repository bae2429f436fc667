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
from tasks.storage import Store, is_permanent_error, retry_unless


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
    ("error", "permanent"),
    [
        (_client_error("AccessDenied"), True),
        (_client_error("NoSuchBucket"), True),
        (_client_error("InvalidAccessKeyId"), True),
        (FileNotFoundError("s3://b/k"), True),
        (PermissionError("s3://b/k"), True),
        (_client_error("SlowDown"), False),
        (_client_error("InternalError"), False),
        (ConnectionError("reset"), False),
    ],
)
def test_permanent_errors_are_not_retried_by_tasks(error: Exception, permanent: bool) -> None:
    class State:
        def result(self) -> None:
            raise error

    assert is_permanent_error(error) is permanent
    assert retry_unless()(None, None, State()) is not permanent
    assert retry_unless(type(error))(None, None, State()) is False
