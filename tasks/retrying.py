"""Prefect task wrappers for work that touches the network: retried on transient errors only.

botocore already retries each S3 / SageMaker request (standard mode: 503 SlowDown, 500,
throttling, timeouts, resets). A task-level retry is the second line: it re-runs the whole
task, after exponential backoff with jitter, and only when the failure is of a kind that can
go away. A bad bucket name, AccessDenied or a parse error fails at once, with its message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from botocore.exceptions import (
    ClientError,
    IncompleteReadError,
    ReadTimeoutError,
    ResponseStreamingError,
)
from botocore.exceptions import ConnectionError as BotocoreConnectionError
from prefect import task
from prefect.cache_policies import NONE, CachePolicy
from prefect.tasks import exponential_backoff

F = TypeVar("F", bound=Callable[..., Any])

TRANSIENT_ERROR_CODES = frozenset({
    "SlowDown", "Throttling", "ThrottlingException", "ThrottledException",
    "RequestThrottled", "RequestTimeout", "RequestTimeoutException", "InternalError",
    "InternalFailure", "ServiceUnavailable", "ServiceUnavailableException", "503", "500",
})  # fmt: skip
_TRANSIENT_TYPES = (
    BotocoreConnectionError,
    IncompleteReadError,
    ReadTimeoutError,
    ResponseStreamingError,
    ConnectionError,
    TimeoutError,
)


def is_transient(error: BaseException) -> bool:
    """True for errors a retry can cure: throttling, 5xx, timeouts, broken connections."""
    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return code in TRANSIENT_ERROR_CODES or status >= 500
    return isinstance(error, _TRANSIENT_TYPES)


def _retry_on_transient(_task: Any, _task_run: Any, state: Any) -> bool:
    try:
        state.result()
    except BaseException as error:  # the task's own exception, re-raised by result()
        return is_transient(error)
    return False


def io_task(
    fn: F,
    *,
    name: str,
    retries: int = 3,
    backoff_s: float = 5,
    cache_policy: CachePolicy = NONE,
    **options: Any,
) -> F:
    """``fn`` as a Prefect task retried ``retries`` times on transient errors only."""
    return task(
        name=name,
        retries=retries,
        retry_delay_seconds=exponential_backoff(backoff_factor=backoff_s),
        retry_jitter_factor=0.5,
        retry_condition_fn=_retry_on_transient,
        cache_policy=cache_policy,
        **options,
    )(fn)
