"""Profiling throughput against its baselines, in one run on the same files.

    benchmarks/setup_cleanvision.sh          # once: cleanvision in its own virtualenv
    /work/venv/bin/python -m benchmarks.bench_profile --count 80 --memory 1000,10000

Generates ``--count`` natural-looking 12-megapixel JPEGs (quality 90) into
``benchmarks/.work/`` (kept between runs), then measures images/s for:

* droneprep: ``profile_images`` (workers=2) + ``flag_images``: every metric, hash and flag;
* a bare Pillow full decode loop (one thread);
* a bare draft-mode decode loop on a two-thread pool (the floor for a 2-core machine);
* cleanvision's ``Imagelab.find_issues()`` (a subprocess in its own virtualenv).

``--memory`` also profiles N small generated images (256x192, so 10k of them stay quick)
through the flow's batch path in a fresh subprocess per N and reports its peak RSS (VmHWM).
droneprep and the draft loop run interleaved, best of ``--repeat`` (wall time on a shared
machine is noisy; the CPU-time ratio is the steadier measure of droneprep's own overhead);
the full-decode loop and cleanvision run once.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from tasks.discover import discover_images
from tasks.profile import (
    ANALYSIS_SIDE_PX,
    flag_images,
    profile_images,
)
from tasks.storage import Store

WORK = Path(__file__).resolve().parent / ".work"
CLEANVISION_PYTHON = Path(
    os.environ.get("CLEANVISION_VENV", "/work/benchvenvs/cleanvision"), "bin", "python"
)
FRAME_WH = (4000, 3000)


def natural_frame(seed: int, size_wh: tuple[int, int] = FRAME_WH) -> Image.Image:
    """1/f colour texture (edges at every scale) plus sensor-like grain, like aerial frames."""
    rng = np.random.default_rng(seed)
    width, height = size_wh[0] // 4, size_wh[1] // 4
    fy, fx = np.fft.fftfreq(height)[:, None], np.fft.rfftfreq(width)[None, :]
    falloff = 1.0 / np.maximum(np.hypot(fx, fy), 1.0 / width)
    channels = []
    for _ in range(3):
        field = np.fft.irfft2(
            falloff * np.exp(2j * np.pi * rng.random(falloff.shape)), s=(height, width)
        )
        channels.append((field - field.mean()) / field.std())
    mix = np.array([[1.0, 0.8, 0.6], [0.3, 0.5, 0.2], [0.0, 0.1, 0.4]])
    coarse = 120 + 45 * (np.stack(channels, axis=2) @ mix)
    base = Image.fromarray(np.clip(coarse, 0, 255).astype(np.uint8), "RGB")
    frame = np.asarray(base.resize(size_wh, Image.Resampling.BICUBIC), dtype=np.int16)
    grain = rng.integers(-6, 7, (size_wh[1], size_wh[0], 1), dtype=np.int16)
    return Image.fromarray(np.clip(frame + grain, 0, 255).astype(np.uint8), "RGB")


def ensure_frames(count: int) -> Path:
    folder = WORK / "frames-12mp"
    folder.mkdir(parents=True, exist_ok=True)
    for seed in range(count):
        path = folder / f"frame_{seed:04d}.jpg"
        if not path.exists():
            natural_frame(seed).save(path, "JPEG", quality=90)
    for extra in sorted(folder.glob("frame_*.jpg"))[count:]:
        extra.unlink()
    return folder


def _timed(run: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process over all its threads)."""
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - wall, time.process_time() - cpu


def _full_decode(paths: list[Path]) -> None:
    for path in paths:
        with Image.open(path) as image:
            image.load()


def _draft_decode_one(path: Path) -> None:
    with Image.open(io.BytesIO(path.read_bytes())) as image:
        width, height = image.size
        scale = ANALYSIS_SIDE_PX / max(width, height)
        image.draft("RGB", (round(width * scale), round(height * scale)))
        image.load()


def _draft_decode(paths: list[Path]) -> None:
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(_draft_decode_one, paths))


def _droneprep(folder: Path) -> pd.DataFrame:
    store = Store()
    images, _ = discover_images(str(folder), store)
    return flag_images(profile_images(images, store, workers=2))


_CLEANVISION_SCRIPT = """
import json, sys, time
from cleanvision import Imagelab
lab = Imagelab(data_path=sys.argv[1])
start = time.perf_counter()
lab.find_issues()
print(json.dumps({"seconds": time.perf_counter() - start}))
"""


def _cleanvision(folder: Path) -> float | None:
    if not CLEANVISION_PYTHON.exists():
        print(f"cleanvision skipped: run benchmarks/setup_cleanvision.sh ({CLEANVISION_PYTHON})")
        return None
    done = subprocess.run(
        [str(CLEANVISION_PYTHON), "-c", _CLEANVISION_SCRIPT, str(folder)],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(json.loads(done.stdout.strip().splitlines()[-1])["seconds"])


def throughput(count: int, repeat: int) -> dict[str, float]:
    folder = ensure_frames(count)
    paths = sorted(folder.glob("*.jpg"))
    megabytes = sum(p.stat().st_size for p in paths) / 1e6
    print(f"{len(paths)} frames of {FRAME_WH[0]}x{FRAME_WH[1]}, {megabytes:.0f} MB in {folder}")
    _full_decode(paths[:2])  # warm the page cache and the imports
    for path in paths:
        path.read_bytes()
    runs = {
        "droneprep profile+flags (2 threads)": lambda: _droneprep(folder),
        "bare Pillow full decode (1 thread)": lambda: _full_decode(paths),
        "bare draft-mode decode (2 threads)": lambda: _draft_decode(paths),
    }
    seconds = {name: float("inf") for name in runs}
    cpu: dict[str, float] = {}
    for attempt in range(repeat):  # interleaved, best of `repeat`: the machine is shared
        for name, run in runs.items():
            if attempt and "full decode" in name:
                continue  # context only: once is enough
            wall, used = _timed(run)
            if wall < seconds[name]:
                seconds[name], cpu[name] = wall, used
    cleanvision = _cleanvision(folder)
    if cleanvision is not None:
        seconds["cleanvision find_issues()"] = cleanvision
    for name, value in seconds.items():
        used = f"{cpu[name]:7.2f} s CPU" if name in cpu else " " * 13
        print(f"  {name:40s} {value:8.2f} s wall {used} {len(paths) / value:8.2f} images/s")
    ours, draft = "droneprep profile+flags (2 threads)", "bare draft-mode decode (2 threads)"
    print(
        f"  droneprep / bare draft, wall          {seconds[ours] / seconds[draft]:8.2f}x"
        " (target <= 1.5)"
    )
    print(f"  droneprep / bare draft, CPU           {cpu[ours] / cpu[draft]:8.2f}x")
    if cleanvision is not None:
        print(
            f"  droneprep speed / cleanvision speed   {cleanvision / seconds[ours]:8.2f}x"
            " (target >= 10)"
        )
    return seconds


# VmHWM, not getrusage: a child's ru_maxrss starts from its parent's RSS at fork time.
_MEMORY_SCRIPT = """
import sys
from pathlib import Path
from tasks.discover import discover_images
from tasks.profile import combine_batches, flag_images, profile_images, split_batches
from tasks.storage import Store
store = Store()
images, _ = discover_images(sys.argv[1], store)
images = images.head(int(sys.argv[2]))
profiled = combine_batches([profile_images(b, store) for b in split_batches(images, 300)])
flagged = flag_images(profiled)
assert len(flagged) == int(sys.argv[2]), len(flagged)
status = Path("/proc/self/status").read_text().splitlines()
print(next(line.split()[1] for line in status if line.startswith("VmHWM:")))
"""


def ensure_small(count: int) -> Path:
    """``count`` distinct 256x192 JPEGs cut from one large texture."""
    folder = WORK / "small-256"
    folder.mkdir(parents=True, exist_ok=True)
    have = len(list(folder.glob("*.jpg")))
    if have >= count:
        return folder
    texture = np.asarray(natural_frame(1, (2048, 1536)))
    rng = np.random.default_rng(0)
    for i in range(have, count):
        y, x = rng.integers(0, 1536 - 192), rng.integers(0, 2048 - 256)
        Image.fromarray(texture[y : y + 192, x : x + 256]).save(
            folder / f"s_{i:05d}.jpg", quality=85
        )
    return folder


def peak_rss(counts: list[int]) -> dict[int, float]:
    folder = ensure_small(max(counts))
    root = Path(__file__).resolve().parents[1]
    result = {}
    for count in counts:
        done = subprocess.run(
            [sys.executable, "-c", _MEMORY_SCRIPT, str(folder), str(count)],
            capture_output=True,
            text=True,
            check=True,
            cwd=root,
            env=os.environ | {"PYTHONPATH": str(root)},
        )
        result[count] = int(done.stdout.strip().splitlines()[-1]) / 1024
        print(f"  peak RSS profiling {count:6d} small images: {result[count]:7.0f} MB")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=textwrap.dedent(__doc__ or ""))
    parser.add_argument(
        "--count", type=int, default=80, help="12-MP frames to generate and profile"
    )
    parser.add_argument("--repeat", type=int, default=5, help="best of N for the local loops")
    parser.add_argument(
        "--memory", default="1000,10000", help="image counts for peak RSS ('' to skip)"
    )
    args = parser.parse_args()
    if args.count:
        throughput(args.count, args.repeat)
    if args.memory:
        peak_rss([int(n) for n in args.memory.split(",")])


if __name__ == "__main__":
    main()
