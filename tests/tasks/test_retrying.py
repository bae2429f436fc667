"""Network tasks retry transient failures only, with backoff; other failures fail at once."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from prefect import flow

from tasks.retrying import io_task, is_transient


def _client_error(code: str, status: int) -> ClientError:
    response = {
        "Error": {"Code": code, "Message": code},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, "GetObject")


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (_client_error("SlowDown", 503), True),
        (_client_error("InternalError", 500), True),
        (_client_error("ThrottlingException", 400), True),
        (EndpointConnectionError(endpoint_url="https://s3.amazonaws.com"), True),
        (TimeoutError("read timed out"), True),
        (_client_error("AccessDenied", 403), False),
        (_client_error("NoSuchBucket", 404), False),
        (ValueError("bad manifest line"), False),
    ],
)
def test_is_transient(error: BaseException, transient: bool) -> None:
    assert is_transient(error) is transient


@pytest.mark.usefixtures("prefect_harness")
@pytest.mark.integration
def test_task_retries_transient_errors_only() -> None:
    attempts = {"slow": 0, "denied": 0}

    def flaky(kind: str) -> str:
        attempts[kind] += 1
        if kind == "slow" and attempts[kind] < 3:
            raise _client_error("SlowDown", 503)
        if kind == "denied":
            raise _client_error("AccessDenied", 403)
        return "ok"

    flaky_task = io_task(flaky, name="flaky", retries=4, backoff_s=0.01)

    @flow
    def run(kind: str) -> str:
        return flaky_task(kind)

    assert run("slow") == "ok"
    assert attempts["slow"] == 3
    with pytest.raises(ClientError, match="AccessDenied"):
        run("denied")
    assert attempts["denied"] == 1
