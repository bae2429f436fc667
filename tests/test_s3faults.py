"""The fault injector really fails calls, and the Store really survives them."""

from __future__ import annotations

import pytest

from tasks.storage import Store
from tests.s3faults import S3FaultInjector, scale_backoff


@pytest.mark.parametrize("rate", [0.1, 0.3])
def test_store_survives_injected_s3_faults(
    s3: object, rate: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    scale_backoff(monkeypatch)
    store = Store(region_name="us-east-1")  # its own client, with the production retry config
    faults = S3FaultInjector(store.s3, rate, seed=int(rate * 100))
    payloads = {f"k/{i:03d}.bin": bytes([i]) * (1000 + i) for i in range(60)}
    for key, data in payloads.items():
        store.write_bytes(f"s3://bucket/{key}", data)
    for key, data in payloads.items():
        store.copy(f"s3://bucket/{key}", f"s3://bucket/copy/{key}")
        assert store.read_bytes(f"s3://bucket/copy/{key}") == data
    assert len(list(store.list("s3://bucket/copy/"))) == len(payloads)
    print(faults.report())
    assert sum(faults.injected.values()) >= rate * faults.calls / 3
    assert faults.injected["truncated-body"] > 0
