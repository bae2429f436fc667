"""The storage interface against an out-of-process moto server (real HTTP, real boto3)."""

from __future__ import annotations

import uuid

import boto3
import pytest

from tasks.storage import Store

pytestmark = pytest.mark.integration


@pytest.fixture
def server_store(moto_server_url: str, aws_env: None) -> tuple[Store, str]:
    bucket = f"droneprep-{uuid.uuid4().hex[:12]}"  # the server may be shared with other tests
    client = boto3.client("s3", region_name="us-east-1", endpoint_url=moto_server_url)
    client.create_bucket(Bucket=bucket)
    return Store(region_name="us-east-1", endpoint_url=moto_server_url), bucket


def test_store_round_trip_through_moto_server(server_store: tuple[Store, str]) -> None:
    store, bucket = server_store
    root = f"s3://{bucket}/raw-data/"
    for index in range(3):
        store.write_bytes(f"{root}flight 1/img ({index}).jpg", bytes([index]) * 10)
    store.copy(f"{root}flight 1/img (0).jpg", f"s3://{bucket}/datasets/x/train/images/a.jpg")

    listed = [info.uri for info in store.list(root)]
    assert listed == [f"{root}flight 1/img ({index}).jpg" for index in range(3)]
    assert store.read_bytes(f"s3://{bucket}/datasets/x/train/images/a.jpg") == bytes(10)
    assert store.read_range(f"{root}flight 1/img (2).jpg", 2, 3) == b"\x02\x02\x02"
    assert store.exists(f"s3://{bucket}/datasets/x/train/images/a.jpg")
    assert not store.exists(f"s3://{bucket}/datasets/x/dataset_info.json")
