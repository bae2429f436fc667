"""Tiling throughput and peak memory, against baselines measured in the same run.

    /work/venv/bin/python -m benchmarks.bench_tile [--frames 6] [--size 640]

Generates ``--frames`` textured 4000x3000 JPEG frames (a typical drone camera) in a temp
folder, then runs each mode in its own process (so peak RSS is that mode's alone):

* ``droneprep-w2``: ``tile_images(..., workers=2)``: each frame read and decoded once,
  frames decoded and tiles encoded/written in a pool of two threads.
* ``droneprep-w1``: the same with one worker (sequential baseline).
* ``per-tile-decode``: the common notebook loop, which opens and decodes the frame again
  for every tile; run on the first two frames only and scaled per frame.

Prints seconds per frame, ratios, and peak RSS above the RSS before tiling (Linux
``/proc/self/status`` VmHWM after resetting it through ``/proc/self/clear_refs``),
also in units of one decoded frame (4000 x 3000 x 3 bytes = 36 MB).
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageOps

FRAME_WH = (4000, 3000)
FRAME_MB = FRAME_WH[0] * FRAME_WH[1] * 3 / 2**20


def _make_frames(folder: Path, count: int) -> None:
    rng = np.random.default_rng(0)
    for index in range(count):
        cells = (rng.random((30, 40, 3)) * 255).astype(np.uint8)
        texture = np.asarray(Image.fromarray(cells).resize(FRAME_WH, Image.Resampling.BICUBIC))
        noise = rng.normal(0, 12, (FRAME_WH[1], FRAME_WH[0], 1))
        pixels = np.clip(texture + noise, 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"frame{index:02d}.jpg", quality=92)


def _tables(folder: Path, count: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    keys = [f"frame{i:02d}.jpg" for i in range(count)]
    images = pd.DataFrame(
        {"key": keys, "uri": [str(folder / k) for k in keys], "width": FRAME_WH[0],
         "height": FRAME_WH[1], "orientation": 1, "status": "ok", "reason": None,
         "split": "train", "group": "folder:."}
    )  # fmt: skip
    boxes = pd.DataFrame(
        {"image_key": keys, "class_name": "car", "class_id": 0, "x_center": 0.5,
         "y_center": 0.5, "width": 0.01, "height": 0.01}
    )  # fmt: skip
    return images, boxes


def _per_tile_decode(images: pd.DataFrame, out: Path, size: int) -> None:
    from tasks.tile import tile_windows

    for frame in images.itertuples():
        for x, y, w, h in tile_windows(frame.width, frame.height, size, 0.2):
            with Image.open(frame.uri) as opened:
                upright = ImageOps.exif_transpose(opened)
            buffer = io.BytesIO()
            upright.crop((x, y, x + w, y + h)).save(buffer, format="JPEG", quality=95)
            (out / f"{Path(frame.key).stem}__x{x}_y{y}.jpg").write_bytes(buffer.getvalue())


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"/proc/self/status has no {field}")


def _reset_peak_rss_mb() -> float:
    """Reset the kernel's peak-RSS mark (Linux) and return the current RSS in MB."""
    Path("/proc/self/clear_refs").write_text("5")
    return _status_mb("VmRSS")


def _run(mode: str, folder: Path, count: int, size: int) -> dict[str, float]:
    from tasks.storage import Store
    from tasks.tile import tile_images

    images, boxes = _tables(folder, count)
    if mode == "per-tile-decode":
        images = images.iloc[:2]
    out = Path(tempfile.mkdtemp(prefix=f"tiles-{mode}-"))
    rss_before = _reset_peak_rss_mb()
    start = time.perf_counter()
    if mode == "per-tile-decode":
        _per_tile_decode(images, out, size)
    else:
        workers = int(mode.rsplit("w", 1)[1])
        tile_images(images, boxes, Store(), str(out), size=size, background_ratio=1e6,
                    workers=workers)  # fmt: skip
    seconds = time.perf_counter() - start
    rss_peak = _status_mb("VmHWM")
    tiles = sum(1 for _ in out.rglob("*.jpg"))
    return {"seconds_per_frame": seconds / len(images), "tiles": tiles,
            "frames": len(images), "peak_rss_above_start_mb": rss_peak - rss_before}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=6)
    parser.add_argument("--size", type=int, default=640)
    parser.add_argument("--run", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        print(json.dumps(_run(args.run, Path(args.folder), args.frames, args.size)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _make_frames(folder, args.frames)
        results = {}
        for mode in ("droneprep-w2", "droneprep-w1", "per-tile-decode"):
            command = [sys.executable, "-m", "benchmarks.bench_tile", "--run", mode, "--folder",
                       tmp, "--frames", str(args.frames), "--size", str(args.size)]  # fmt: skip
            output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            results[mode] = json.loads(output.strip().splitlines()[-1])
    base = results["droneprep-w2"]["seconds_per_frame"]
    for mode, result in results.items():
        print(
            f"{mode:16s} {result['seconds_per_frame']:.3f} s/frame "
            f"({result['seconds_per_frame'] / base:.2f}x droneprep-w2 time), "
            f"{result['tiles']} tiles of {result['frames']} frames, peak RSS +"
            f"{result['peak_rss_above_start_mb']:.0f} MB "
            f"({result['peak_rss_above_start_mb'] / FRAME_MB:.1f} decoded frames)"
        )


if __name__ == "__main__":
    main()
