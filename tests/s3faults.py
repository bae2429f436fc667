"""Make a share of S3 calls fail the way real S3 fails under load, through botocore's events.

Faults: 503 SlowDown, 500 InternalError, 400 RequestTimeout, a reset connection, and a
GetObject body that stops mid-read. The error answers replace the real answer in
``before-send``; with in-process moto (whose own hook answers first) the request has then
already been applied, so they stand for a request that succeeded but whose answer was
lost — the harder case for idempotency. A reset raises before any answer.
"""

from __future__ import annotations

import io
import random
import threading
from collections import Counter
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.exceptions import ConnectionClosedError
from botocore.response import StreamingBody
from botocore.retries.standard import ExponentialBackoff

_ERRORS = {
    "SlowDown": (503, "Please reduce your request rate."),
    "InternalError": (500, "We encountered an internal error. Please try again."),
    "RequestTimeout": (400, "Your socket connection to the server was not read from in time."),
}
KINDS = (*_ERRORS, "reset", "truncated-body")


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Any:
        yield self._body


class S3FaultInjector:
    """Fails about ``rate`` of the S3 calls of one boto3 client, deterministically per seed."""

    def __init__(self, client: Any, rate: float, *, seed: int = 0,
                 kinds: tuple[str, ...] = KINDS) -> None:  # fmt: skip
        self.rate, self.kinds = rate, kinds
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self.calls = 0
        self.injected: Counter[str] = Counter()
        client.meta.events.register("before-send.s3.*", self._before_send)
        client.meta.events.register("after-call.s3.GetObject", self._after_get)

    def _draw(self, allowed: tuple[str, ...]) -> str | None:
        with self._lock:
            self.calls += 1
            if not allowed or self._random.random() >= self.rate:
                return None
            kind = self._random.choice(allowed)
            self.injected[kind] += 1
            return kind

    def _before_send(self, request: Any, **_: Any) -> AWSResponse | None:
        kind = self._draw(tuple(k for k in self.kinds if k != "truncated-body"))
        if kind is None:
            return None
        if kind == "reset":
            raise ConnectionClosedError(endpoint_url=request.url)
        status, message = _ERRORS[kind]
        body = (f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{kind}</Code>'
                f"<Message>{message}</Message></Error>").encode()  # fmt: skip
        return AWSResponse(request.url, status, {"Content-Type": "application/xml"}, _Raw(body))

    def _after_get(self, parsed: dict[str, Any], **_: Any) -> None:
        if "truncated-body" not in self.kinds or "Body" not in parsed:
            return
        with self._lock:
            cut = self._random.random() < self.rate
            if cut:
                self.injected["truncated-body"] += 1
        if cut:
            data = parsed["Body"].read()
            parsed["Body"] = StreamingBody(io.BytesIO(data[: len(data) // 2]), len(data))

    def report(self) -> str:
        failed = sum(self.injected.values())
        kinds = ", ".join(f"{k}={v}" for k, v in sorted(self.injected.items()))
        return f"S3 calls: {self.calls}, failed on purpose: {failed} ({kinds})"


def scale_backoff(monkeypatch: Any, factor: float = 0.01) -> None:
    """Keep botocore's real retry decisions but shrink its sleeps, so tests stay quick."""
    original = ExponentialBackoff.delay_amount
    monkeypatch.setattr(
        ExponentialBackoff, "delay_amount", lambda self, context: original(self, context) * factor
    )
