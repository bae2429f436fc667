"""Reading the whole hostile corpus in one process keeps its peak RSS under a bound."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.hostile.corpus import CASES

PEAK_RSS_BOUND_MB = 500  # measured about 345 MB, of which about 180 MB is the imports
REPO = Path(__file__).resolve().parents[2]


def test_reading_the_whole_corpus_stays_under_the_memory_bound() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tests.hostile.corpus"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"hostile corpus: {result}")  # the figure, in the test output with -s
    assert result["cases"] == len(CASES)
    assert result["quarantined"] == sum(c.reader == "image" for c in CASES)
    assert result["problems"] >= len(CASES) - result["quarantined"]
    assert result["peak_rss_mb"] < PEAK_RSS_BOUND_MB
