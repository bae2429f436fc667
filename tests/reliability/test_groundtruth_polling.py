"""Following a long labeling job through throttling and 5xx answers (botocore Stubber).

A simulated ten-hour job: every DescribeLabelingJob of the sequence is stubbed, with
ThrottlingException and 500/503 answers interleaved; the clock moves only by the
sleeps ``wait_for_job`` asks for.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest
from botocore.stub import Stubber

from tasks.groundtruth import wait_for_job
from tests.tasks.test_groundtruth import OUTPUT, describe_response, make_request

TRANSIENT = [
    ("ThrottlingException", 400),
    ("InternalFailure", 500),
    ("ThrottlingException", 400),
    ("ServiceUnavailable", 503),
]
MAX_DELAY_S = 600.0
JOB_HOURS = 10


class SimulatedClock:
    def __init__(self) -> None:
        self.now_s = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now_s += seconds

    def __call__(self) -> float:
        return self.now_s


def test_polling_survives_throttling_and_5xx_for_a_whole_long_job(
    sagemaker_stubber: tuple[Any, Stubber], capsys: pytest.CaptureFixture[str]
) -> None:
    client, stubber = sagemaker_stubber
    request = make_request()
    # ten hours of polls at most every MAX_DELAY_S (at least half of it, with jitter)
    polls = int(JOB_HOURS * 3600 / (MAX_DELAY_S * 0.75))
    sent: Counter[str] = Counter()
    for n in range(polls):
        if n % 3 == 1:  # every third answer is an error; throttling most often
            code, status = TRANSIENT[(n // 3) % len(TRANSIENT)]
            stubber.add_client_error("describe_labeling_job", code, http_status_code=status)
            sent[code] += 1
        else:
            labeled = min(1000, n * 1000 // polls)
            stubber.add_response(
                "describe_labeling_job",
                describe_response(request, "InProgress", labeled=labeled, unlabeled=1000 - labeled),
            )
            sent["InProgress"] += 1
    stubber.add_response(
        "describe_labeling_job",
        describe_response(request, "Completed", labeled=1000, unlabeled=0, output=OUTPUT),
    )
    clock = SimulatedClock()
    final = wait_for_job(
        client,
        "job-1",
        timeout_s=24 * 3600,
        initial_delay_s=15,
        max_delay_s=MAX_DELAY_S,
        sleep=clock.sleep,
        clock=clock,
        rng=random.Random(9),
    )
    errors = sum(v for k, v in sent.items() if k != "InProgress")
    with capsys.disabled():
        print(
            f"\n[ground truth polling] {polls + 1} describe calls over {clock.now_s / 3600:.1f} "
            f"simulated hours; {errors} failed ({dict(sent)}), all retried; longest wait "
            f"{max(clock.sleeps):.0f} s (cap {MAX_DELAY_S:.0f} s)"
        )
    assert final["LabelingJobStatus"] == "Completed"
    assert len(clock.sleeps) == polls  # one wait after every answer, error or not
    assert clock.now_s > 8 * 3600  # the job really ran for hours of simulated time
    assert max(clock.sleeps) <= MAX_DELAY_S  # the backoff is capped ...
    assert all(s >= MAX_DELAY_S / 2 for s in clock.sleeps[6:])  # ... and is not reset by errors
    assert clock.sleeps[:3] == sorted(clock.sleeps[:3])  # it starts short and grows
    assert clock.sleeps[0] <= 15
