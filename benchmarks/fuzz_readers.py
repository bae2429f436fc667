"""Fuzz every annotation reader, format detection and the YOLO label-line parser for a
bounded time; report executions and crashes.

A crash is any exception escaping a target other than the documented one: readers and
``detect_format`` raise nothing for bad content (it becomes Problems or None);
``parse_label_line`` raises only ``LabelLineError``. A hang is an input slower than
``--slow`` seconds.

    /work/venv/bin/python -m benchmarks.fuzz_readers --seconds 60            # hypothesis
    /work/venv/bin/python -m benchmarks.fuzz_readers --seconds 120 --engine both \\
        --atheris-python /work/benchvenvs/atheris/bin/python                # + atheris

Hypothesis runs in this process with format-aware inputs (JSON shaped like a manifest or
COCO file, VOC xml, txt lines of hostile number tokens) plus raw bytes. atheris (libFuzzer,
coverage-guided over ``tasks.*``) runs each target in its own process for its share of the
time: ``--atheris-python`` is a Python with atheris installed that can import this
project (see benchmarks/RESULTS.md, "## Fuzzing").
"""

from __future__ import annotations

import argparse
import json
import math
import re
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
TARGET_NAMES = (
    "groundtruth",
    "coco",
    "voc",
    "yolo",
    "visdrone",
    "dota",
    "detect_format",
    "parse_label_line",
)


def _targets() -> dict[str, Callable[[bytes], object]]:
    """Each target takes bytes and raises only what it documents."""
    from tasks.annotations.coco import read_coco
    from tasks.annotations.detect import detect_format
    from tasks.annotations.dota import read_dota
    from tasks.annotations.groundtruth import read_groundtruth
    from tasks.annotations.visdrone import read_visdrone
    from tasks.annotations.voc import read_voc
    from tasks.annotations.yolo import read_yolo
    from tasks.layout import LabelLineError, parse_label_line

    def label_line(data: bytes) -> object:
        try:
            return parse_label_line(data.decode("utf-8", errors="replace"), "fuzz.txt:1")
        except LabelLineError:
            return None

    def detect(data: bytes) -> object:
        return [detect_format(name, data) for name in ("a.json", "a.manifest", "a.xml", "a.txt")]

    return {
        "groundtruth": lambda d: read_groundtruth(d, "fuzz.manifest", verification="drop"),
        "coco": lambda d: read_coco(d, "fuzz.json"),
        "voc": lambda d: read_voc(d, "fuzz.xml", fallback_ref="fuzz"),
        "yolo": lambda d: read_yolo(d, "fuzz.txt", image_ref="fuzz", names=["a", "b"]),
        "visdrone": lambda d: read_visdrone(d, "fuzz.txt", image_ref="fuzz"),
        "dota": lambda d: read_dota(d, "fuzz.txt", image_ref="fuzz"),
        "detect_format": detect,
        "parse_label_line": label_line,
    }


# -- hypothesis: format-aware inputs --------------------------------------------------------


def _strategies() -> dict[str, Any]:
    from hypothesis import strategies as st

    number_token = st.one_of(
        st.sampled_from(["nan", "-nan", "inf", "-inf", "Infinity", "1e400", "-0", "0x10", "1_0"]),
        st.sampled_from(["9" * 400, "1e-400", "\u0661", "\u00bd", "0.5\x00", "", " ", ",", "\t"]),
        st.integers(-(10**30), 10**30).map(str),
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
    )
    word = st.one_of(
        st.sampled_from(["car", "../x", "a\\b", "\x1b[0m", "\u202e", "imagesource:x", "gsd:1"]),
        st.text(max_size=8),
    )
    token = st.one_of(number_token, word)
    separator = st.sampled_from([" ", ",", "\t", ", ", "  "])
    line = st.tuples(st.lists(token, max_size=12), separator).map(lambda t: t[1].join(t[0]))
    newline = st.sampled_from(["\n", "\r\n", "\r"])
    txt = st.tuples(st.lists(line, max_size=8), newline, st.booleans()).map(
        lambda t: ("\ufeff" if t[2] else "") + t[1].join(t[0])
    )
    scalar = st.one_of(
        st.sampled_from([10**400, -(10**400), math.nan, math.inf, -math.inf, -1, 0, 2**63]),
        st.none(),
        st.booleans(),
        st.integers(-(10**400), 10**400),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=10),
        st.sampled_from(["0", "car", "../../etc", "yes", "no", "2026-11-28T00:00:00"]),
    )
    value = st.recursive(
        scalar,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)
        ),
        max_leaves=12,
    )
    box = st.fixed_dictionaries(
        {},
        optional={k: value for k in ("class_id", "left", "top", "width", "height")},
    )
    gt_line = st.fixed_dictionaries(
        {"source-ref": st.one_of(value, st.just("s3://b/x.jpg"))},
        optional={
            "job": st.fixed_dictionaries(
                {},
                optional={
                    "annotations": st.one_of(st.lists(box, max_size=4), value),
                    "image_size": value,
                    "class_id": value,
                },
            ),
            "job-metadata": st.fixed_dictionaries(
                {},
                optional={
                    "class-map": st.one_of(
                        st.dictionaries(st.sampled_from(["0", "1"]), value), value
                    ),
                    "type": st.sampled_from(
                        ["groundtruth/object-detection", "groundtruth/label-verification"]
                    ),
                    "human-annotated": value,
                    "objects": value,
                    "creation-date": value,
                    "failure-reason": value,
                    "class-name": value,
                },
            ),
            "failure-reason": value,
        },
    )
    # libFuzzer-style dictionary entries: nesting past the recursion limit, 4300+ digits
    deep = st.integers(1, 120_000).map(lambda n: "[" * n + "]" * n)
    digits = st.integers(4000, 6000).map(lambda n: '{"n": ' + "9" * n + "}")
    manifest = st.lists(st.one_of(gt_line.map(_dumps), txt, deep, digits), max_size=5).map(
        "\n".join
    )
    coco_doc = st.fixed_dictionaries(
        {},
        optional={
            "images": st.one_of(
                st.lists(
                    st.fixed_dictionaries(
                        {},
                        optional={"id": value, "file_name": value, "width": value, "height": value},
                    ),
                    max_size=3,
                ),
                value,
            ),
            "annotations": st.one_of(
                st.lists(
                    st.fixed_dictionaries(
                        {},
                        optional={
                            "id": value,
                            "image_id": value,
                            "category_id": value,
                            "bbox": value,
                            "iscrowd": value,
                        },
                    ),
                    max_size=4,
                ),
                value,
            ),
            "categories": st.one_of(
                st.lists(
                    st.fixed_dictionaries({}, optional={"id": value, "name": value}), max_size=3
                ),
                value,
            ),
        },
    ).map(_dumps)
    coco_doc = st.one_of(coco_doc, deep, digits)
    xml_text = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=12).map(
        lambda s: s.replace("<", "&lt;").replace("&", "&amp;")
    )
    voc_obj = st.tuples(token, token, token, token, word, token).map(
        lambda t: (
            f"<object><name>{_xml(t[4])}</name><difficult>{_xml(t[5])}</difficult><bndbox>"
            + "".join(
                f"<{k}>{_xml(v)}</{k}>"
                for k, v in zip(("xmin", "ymin", "xmax", "ymax"), t[:4], strict=True)
            )
            + "</bndbox></object>"
        )
    )
    voc = st.tuples(xml_text, token, token, st.lists(voc_obj, max_size=3), st.booleans()).map(
        lambda t: (
            f"<annotation><filename>{t[0]}</filename><size><width>{_xml(t[1])}</width>"
            f"<height>{_xml(t[2])}</height></size>{''.join(t[3])}</annotation>"
        )[: None if t[4] else -7]
    )
    raw = st.binary(max_size=512)

    def encoded(text_strategy: Any) -> Any:
        return st.one_of(text_strategy.map(lambda s: s.encode("utf-8", "surrogatepass")), raw)

    return {
        "groundtruth": encoded(manifest),
        "coco": encoded(coco_doc),
        "voc": encoded(voc),
        "yolo": encoded(txt),
        "visdrone": encoded(txt),
        "dota": encoded(txt),
        "detect_format": encoded(st.one_of(manifest, coco_doc, voc, txt)),
        "parse_label_line": encoded(line),
    }


def _dumps(doc: Any) -> str:
    try:
        return json.dumps(doc)
    except ValueError:  # an int past Python's str conversion limit: write it as digits
        return json.dumps(doc, default=str)


def _xml(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;")


@dataclass
class Outcome:
    target: str
    engine: str
    seconds: float = 0.0
    executions: int = 0
    crashes: list[str] = field(default_factory=list)
    slowest_s: float | None = None  # hypothesis measures each input; atheris: -timeout


_BATCH = 100  # examples per hypothesis run; the clock is checked between runs


def _hypothesis_run(
    name: str, target: Callable[[bytes], object], seconds: float, slow: float
) -> Outcome:
    """Run ``target`` on generated inputs until ``seconds`` pass; a crash is shrunk and kept."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis.errors import HypothesisWarning

    warnings.simplefilter("ignore", HypothesisWarning)  # "overly large repr" of a bomb

    outcome = Outcome(name, "hypothesis")
    end = time.monotonic() + seconds

    @settings(
        max_examples=_BATCH,
        deadline=None,
        database=None,
        phases=[Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(_strategies()[name])
    def run(data: bytes) -> None:
        start = time.perf_counter()
        target(data)
        took = time.perf_counter() - start
        outcome.executions += 1
        outcome.slowest_s = max(outcome.slowest_s or 0.0, took)
        if took > slow:
            raise AssertionError(f"slow input: {took:.1f} s for {len(data)} bytes")

    started = time.monotonic()
    while time.monotonic() < end and len(outcome.crashes) < 3:
        try:
            run()
        except Exception as error:  # every exception escaping a target is a finding
            found = error.exceptions if isinstance(error, ExceptionGroup) else [error]
            for one in found:
                crash = f"{type(one).__name__}: {str(one)[:300]}"
                if crash not in outcome.crashes:
                    outcome.crashes.append(crash)
    outcome.seconds = time.monotonic() - started
    return outcome


# -- atheris: coverage-guided, one process per target --------------------------------------


def _atheris_worker(name: str, seconds: int, slow: float) -> None:
    """Runs inside the atheris Python: libFuzzer drives ``name`` until ``seconds`` pass."""
    import atheris

    with atheris.instrument_imports(include=["tasks"]):
        target = _targets()[name]
    atheris.Setup(
        [
            sys.argv[0],
            f"-max_total_time={seconds}",
            f"-timeout={max(1, math.ceil(slow))}",
            "-rss_limit_mb=2048",
            "-max_len=4096",
            f"-artifact_prefix={tempfile.gettempdir()}/fuzz-{name}-",
            "-print_final_stats=1",
        ],
        target,
    )
    atheris.Fuzz()


_RUNS_RE = re.compile(r"stat::number_of_executed_units:\s*(\d+)")


def _atheris_run(name: str, seconds: int, slow: float, python: str) -> Outcome:
    outcome = Outcome(name, "atheris")
    started = time.monotonic()
    command = [python, "-m", "benchmarks.fuzz_readers", "--atheris-worker", name]
    done = subprocess.run(
        [*command, "--seconds", str(seconds), "--slow", str(slow)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=seconds + 120,
        check=False,
    )
    outcome.seconds = time.monotonic() - started
    log = done.stderr
    runs = _RUNS_RE.findall(log)
    outcome.executions = int(runs[-1]) if runs else 0
    if done.returncode != 0:
        lines = log.splitlines()
        found = [ln for ln in lines if "Uncaught Python exception" in ln or "ERROR:" in ln]
        tail = [ln for ln in lines if re.match(r"^\w*(Error|Exception)\b", ln)]
        outcome.crashes.append(" | ".join([*found[:2], *tail[-1:]]) or log[-500:])
    return outcome


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="total time, all targets")
    parser.add_argument("--engine", choices=["hypothesis", "atheris", "both"], default="hypothesis")
    parser.add_argument("--atheris-python", default=sys.executable)
    parser.add_argument("--targets", default=",".join(TARGET_NAMES))
    parser.add_argument("--slow", type=float, default=5.0, help="seconds that make a hang")
    parser.add_argument("--atheris-worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.atheris_worker:
        _atheris_worker(args.atheris_worker, int(args.seconds), args.slow)
        return 0
    names = [n for n in args.targets.split(",") if n]
    unknown = set(names) - set(TARGET_NAMES)
    if unknown:
        parser.error(f"unknown targets {sorted(unknown)}; choose from {', '.join(TARGET_NAMES)}")
    engines = ["hypothesis", "atheris"] if args.engine == "both" else [args.engine]
    share = args.seconds / (len(names) * len(engines))
    targets = _targets()
    outcomes = []
    for name in names:
        if "hypothesis" in engines:
            outcomes.append(_hypothesis_run(name, targets[name], share, args.slow))
        if "atheris" in engines:
            outcomes.append(_atheris_run(name, max(1, int(share)), args.slow, args.atheris_python))
    header = f"{'target':18} {'engine':10} {'seconds':>8} {'executions':>11} {'slowest s':>9}"
    print(f"{header}  crashes")
    for o in outcomes:
        slowest = "-" if o.slowest_s is None else f"{o.slowest_s:.3f}"
        row = f"{o.target:18} {o.engine:10} {o.seconds:8.1f} {o.executions:11d} {slowest:>9}"
        print(f"{row}  {len(o.crashes)}")
        for crash in o.crashes:
            print(f"    {crash}")
    total = sum(o.executions for o in outcomes)
    crashed = sum(len(o.crashes) for o in outcomes)
    print(f"total: {total} executions, {crashed} crashes")
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main())
