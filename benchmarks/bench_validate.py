"""validate on a 10,000-image dataset vs Ultralytics' ``verify_image_label`` on the same files.

    PYTHONPATH=. /work/venv/bin/python -m benchmarks.bench_validate [--images 10000] [--repeats 3]

The dataset is generated once under ``benchmarks/.work/`` (160x120 JPEGs, 3 classes, about
4 boxes an image, every tenth image a background, 80/20 train/val) with data.yaml and a
dataset_info.json carrying the file list, as publish writes it.

Both sides run as fresh processes on the same files, alternating, and each reports the time
of its work (after imports) and the process wall time (imports included):

* ours: ``flows.validate.validate_uri`` - every suite (structure, counts, labels, images,
  integrity with the sha256 of every file, warnings) through Great Expectations.
* baseline: Ultralytics' own label scan, ``verify_image_label`` over every (image, label)
  pair in a ``ThreadPool`` as ``YOLODataset.cache_labels`` runs it, with Ultralytics'
  ``NUM_THREADS`` (cpu_count - 1 = 1 on 2 cores) and with 2 threads; the faster is the
  baseline. It needs a separate virtualenv with ultralytics (``--ultralytics-python``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

WORK = Path(__file__).resolve().parent / ".work"
ULTRALYTICS_PYTHON = "/work/benchvenvs/ultralytics/bin/python"
NAMES = ["car", "person", "truck"]

OURS = """
import json, sys, time
start = time.perf_counter()
from flows.validate import validate_uri
from tasks.storage import Store
# modules validate_uri imports lazily: count them as imports, like Ultralytics' own
import expectations.runner
from expectations import advisories, counts, images, integrity, labels, structure  # noqa: F401
ready = time.perf_counter()
report = validate_uri(sys.argv[1], Store(), min_train=100, min_val=50)
done = time.perf_counter()
assert report.success, report.failures
print(json.dumps({"work_s": done - ready, "import_s": ready - start,
                  "images": report.statistics["images"],
                  "lines": report.statistics["label_lines"],
                  "sha256": report.statistics["image_sha256_verified"]}))
"""

ULTRALYTICS = """
import json, sys, time
from itertools import repeat
from multiprocessing.pool import ThreadPool
from pathlib import Path
start = time.perf_counter()
from ultralytics.data.utils import verify_image_label
from ultralytics.utils import NUM_THREADS
ready = time.perf_counter()
root, threads = Path(sys.argv[1]), int(sys.argv[2]) or NUM_THREADS
images = sorted(str(p) for split in ("train", "val") for p in (root / split / "images").iterdir())
labels = [p.replace("/images/", "/labels/").rsplit(".", 1)[0] + ".txt" for p in images]
args = zip(images, labels, repeat(""), repeat(False), repeat(3), repeat(0), repeat(0),
           repeat(False))
with ThreadPool(threads) as pool:
    results = list(pool.imap(verify_image_label, args))
done = time.perf_counter()
corrupt = sum(r[8] for r in results)
assert corrupt == 0, corrupt
print(json.dumps({"work_s": done - ready, "import_s": ready - start, "images": len(results),
                  "threads": threads}))
"""


def _boxes(index: int) -> str:
    if index % 10 == 9:
        return ""
    lines = []
    for box in range(1 + index % 7):
        x, y = 0.1 + 0.8 * ((index * 7 + box * 13) % 97) / 97, 0.1 + 0.8 * (box * 31 % 89) / 89
        w, h = 0.04 + 0.1 * (box % 3), 0.05 + 0.08 * (index % 4) / 4
        lines.append(
            f"{(index + box) % 3} {x:.6f} {y:.6f} {min(w, 2 * x, 2 * (1 - x)):.6f} "
            f"{min(h, 2 * y, 2 * (1 - y)):.6f}"
        )
    return "\n".join(lines) + "\n"


def generate(root: Path, count: int) -> None:
    """Write the dataset once; dataset_info.json last marks it complete."""
    if (root / "dataset_info.json").is_file():
        return
    from expectations.frames import files_digest
    from tasks.layout import data_yaml_text, dataset_info_text
    from tests.conftest import make_image_bytes

    started = time.perf_counter()
    files = []
    for index in range(count):
        split = "val" if index % 5 == 4 else "train"
        stem = f"frame_{index:06d}"
        for rel, body in (
            (f"{split}/images/{stem}.jpg", make_image_bytes(160, 120, "JPEG", seed=index)),
            (f"{split}/labels/{stem}.txt", _boxes(index).encode()),
        ):
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(body)
            files.append(
                {"path": rel, "bytes": len(body), "sha256": hashlib.sha256(body).hexdigest()}
            )
    yaml_text = data_yaml_text(NAMES, ["train", "val"]).encode()
    (root / "data.yaml").write_bytes(yaml_text)
    files.append(
        {
            "path": "data.yaml",
            "bytes": len(yaml_text),
            "sha256": hashlib.sha256(yaml_text).hexdigest(),
        }
    )
    files.sort(key=lambda f: f["path"])
    info = {
        "schema_version": 1,
        "name": root.name,
        "created_at": "2026-11-28T00:00:00Z",
        "names": NAMES,
        "files": files,
        "files_digest": files_digest(files),
    }
    (root / "dataset_info.json").write_text(dataset_info_text(info))
    print(f"generated {count} images in {time.perf_counter() - started:.1f} s under {root}")


def _run(argv: list[str]) -> dict:
    started = time.perf_counter()
    done = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "GX_ANALYTICS_ENABLED": "false"},
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{argv[:2]} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return {**result, "wall_s": wall}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ultralytics-python", default=ULTRALYTICS_PYTHON)
    args = parser.parse_args()
    root = WORK / f"validate_{args.images}"
    generate(root, args.images)

    runs: dict[str, list[dict]] = {
        "ours": [],
        "ultralytics NUM_THREADS": [],
        "ultralytics 2 threads": [],
    }
    commands = {
        "ours": [sys.executable, "-c", OURS, str(root)],
        "ultralytics NUM_THREADS": [args.ultralytics_python, "-c", ULTRALYTICS, str(root), "0"],
        "ultralytics 2 threads": [args.ultralytics_python, "-c", ULTRALYTICS, str(root), "2"],
    }
    for repeat in range(args.repeats):
        for name, argv in commands.items():
            runs[name].append(_run(argv))
            print(f"repeat {repeat + 1} {name}: {runs[name][-1]}", flush=True)

    def median(name: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[name])

    baseline = min(
        ("ultralytics NUM_THREADS", "ultralytics 2 threads"), key=lambda n: median(n, "work_s")
    )
    print(f"\nmedian of {args.repeats}, {args.images} images, {os.cpu_count()} cores")
    print("| run | work s | imports s | process wall s |")
    print("|---|---:|---:|---:|")
    for name in runs:
        print(
            f"| {name} | {median(name, 'work_s'):.2f} | {median(name, 'import_s'):.2f} | "
            f"{median(name, 'wall_s'):.2f} |"
        )
    for key in ("work_s", "wall_s"):
        ratio = median(baseline, key) / median("ours", key)
        print(f"speed-up over {baseline} ({key}): {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
