"""One publisher per dataset name at a time, and a crashed publisher does not block forever.

The lock is an object beside the dataset (``<dest>/<name>.publish-lock``), created with a
conditional write, so of two runs racing for one name exactly one gets it. It records who
holds it. A lock is stale when its holder is a dead process on this host, or when it is
older than ``ttl_s`` (a holder on another host that died); a stale lock is taken over.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from tasks.storage import Store

log = logging.getLogger(__name__)

DEFAULT_TTL_S = 6 * 3600


class DatasetLockedError(RuntimeError):
    """Another run is publishing this dataset name right now."""


def lock_uri(dataset_uri: str) -> str:
    return dataset_uri.rstrip("/") + ".publish-lock"


def _holder() -> dict[str, object]:
    return {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "token": uuid.uuid4().hex,
        "since": time.time(),
    }


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_stale(holder: dict[str, object], ttl_s: float) -> bool:
    if holder.get("host") == socket.gethostname() and not _pid_alive(int(holder["pid"])):
        return True
    return time.time() - float(holder.get("since", 0)) > ttl_s


def _read_holder(store: Store, uri: str) -> dict[str, object] | None:
    try:
        return json.loads(store.read_bytes(uri))
    except FileNotFoundError:  # the holder released it meanwhile
        return None
    except ValueError:  # unreadable lock: treat it as held by nobody alive
        return {"since": 0}


def _created(store: Store, uri: str, payload: bytes, token: str) -> bool:
    """Create the lock; True also when the lock found there is ours: a PUT that landed but
    whose answer was lost (a 500 or a timeout) is retried, and the retry is refused."""
    if store.create_exclusive(uri, payload):
        return True
    return (_read_holder(store, uri) or {}).get("token") == token


@contextmanager
def publish_lock(dataset_uri: str, store: Store, *, ttl_s: float = DEFAULT_TTL_S) -> Iterator[None]:
    """Hold the dataset's publish lock for the ``with`` block, or raise DatasetLockedError."""
    uri = lock_uri(dataset_uri)
    me = _holder()
    payload = json.dumps(me).encode()
    if not _created(store, uri, payload, str(me["token"])):
        holder = _read_holder(store, uri)
        if holder is not None and not _is_stale(holder, ttl_s):
            raise DatasetLockedError(
                f"{dataset_uri} is being published by another run (host {holder.get('host')}, "
                f"pid {holder.get('pid')}, since {time.ctime(float(holder.get('since', 0)))}); "
                f"try again when it has finished"
            )
        log.warning("taking over a stale publish lock at %s (holder %s)", uri, holder)
        store.delete(uri)
        if not _created(store, uri, payload, str(me["token"])):
            raise DatasetLockedError(f"{dataset_uri}: another run took over the stale lock first")
    try:
        yield
    finally:
        if (_read_holder(store, uri) or {}).get("token") == me["token"]:
            store.delete(uri)
