"""The demo generator: deterministic, in the real Ground Truth schema, defects as claimed."""

from __future__ import annotations

import hashlib
import io
import json
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps, UnidentifiedImageError

from tasks.demo import (
    CLASSES,
    FRAMES_PER_FLIGHT,
    GT_SOURCE_ROOT,
    LABEL_ATTRIBUTE,
    MIN_IMAGES,
    DemoData,
    demo_inputs,
    ensure_demo_data,
    load_demo_data,
    make_demo_data,
)
from tasks.discover import discover_images
from tasks.storage import Store

N_IMAGES, SEED = 40, 3
METADATA = f"{LABEL_ATTRIBUTE}-metadata"
DEFECT_KINDS = {
    "truncated-jpeg",
    "not-an-image",
    "unlabeled",
    "background",
    "malformed-manifest-line",
    "failure-reason",
    "exif-orientation-6",
    "exact-duplicate",
    "near-duplicate",
    "png",
}


def _generate(root: Path, n_images: int = N_IMAGES, seed: int = SEED) -> DemoData:
    started, cpu = time.perf_counter(), time.process_time()
    demo = make_demo_data(root, n_images=n_images, seed=seed)
    print(
        f"\nmake_demo_data(n_images={n_images}): {time.perf_counter() - started:.2f} s wall, "
        f"{time.process_time() - cpu:.2f} s CPU"
    )
    return demo


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoData:
    return _generate(tmp_path_factory.mktemp("demo"))


def _files(demo: DemoData) -> dict[str, bytes]:
    root = Path(demo.source_uri)
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _lines(demo: DemoData) -> list[str]:
    return Path(demo.annotations_uri).read_text(encoding="utf-8").splitlines()


def _records(demo: DemoData) -> dict[str, dict]:
    """Well-formed manifest lines by key below the labelling job's root."""
    malformed = {d.manifest_line for d in demo.defects if d.kind == "malformed-manifest-line"}
    records = {}
    for number, line in enumerate(_lines(demo), start=1):
        if number not in malformed:
            record = json.loads(line)
            records[record["source-ref"].removeprefix(GT_SOURCE_ROOT)] = record
    return records


def _defect(demo: DemoData, kind: str) -> str:
    (key,) = demo.keys(kind)
    return key


def test_same_seed_gives_identical_bytes(demo: DemoData, tmp_path: Path) -> None:
    again = _generate(tmp_path, seed=SEED)
    assert _files(again) == _files(demo)
    assert Path(again.annotations_uri).read_bytes() == Path(demo.annotations_uri).read_bytes()
    assert again.defects == demo.defects
    record = Path(demo.source_uri).parent / "demo.json"
    assert (tmp_path / "demo.json").read_bytes() == record.read_bytes()  # no absolute paths


def test_counts(demo: DemoData) -> None:
    files = _files(demo)
    assert demo.n_frames == N_IMAGES
    assert demo.n_images == len(files) == N_IMAGES + 3  # an exact copy, an edited copy, a non-image
    assert len(_lines(demo)) == demo.n_manifest_lines == N_IMAGES - 1 + 3  # one frame unlabeled
    boxes = [
        a
        for r in _records(demo).values()
        for a in r.get(LABEL_ATTRIBUTE, {}).get("annotations", [])
    ]
    assert len(boxes) == demo.n_boxes == sum(demo.class_instances.values())
    assert demo.class_instances["car"] > 0 and demo.class_instances["building"] > 0
    flights = round(N_IMAGES / FRAMES_PER_FLIGHT)
    assert sorted({p.split("/")[0] for p in files}) == [
        f"flight_{i:02d}" for i in range(1, flights + 1)
    ]


def test_discover_finds_every_image_file(demo: DemoData) -> None:
    images, problems = discover_images(demo.source_uri, Store())
    assert len(images) == demo.n_images
    assert problems == []


def test_manifest_lines_are_ground_truth_bounding_box_output(demo: DemoData) -> None:
    records = _records(demo)
    failed = _defect(demo, "failure-reason")
    for key, record in records.items():
        assert record["source-ref"] == GT_SOURCE_ROOT + key
        metadata = record[METADATA]
        assert metadata["job-name"] == f"labeling-job/{LABEL_ATTRIBUTE}"
        assert metadata["type"] == "groundtruth/object-detection"
        assert metadata["human-annotated"] == "yes"
        datetime.fromisoformat(metadata["creation-date"])
        if key == failed:
            assert LABEL_ATTRIBUTE not in record and metadata["failure-reason"]
            continue
        label = record[LABEL_ATTRIBUTE]
        ((size,),) = [label["image_size"]]
        assert len(metadata["objects"]) == len(label["annotations"])
        for box in label["annotations"]:
            assert metadata["class-map"][str(box["class_id"])] == CLASSES[box["class_id"]]
            assert box["left"] >= 0 and box["left"] + box["width"] <= size["width"]
            assert box["top"] >= 0 and box["top"] + box["height"] <= size["height"]
            assert box["width"] >= 3 and box["height"] >= 3


def test_image_size_is_the_displayed_size(demo: DemoData) -> None:
    root, broken = Path(demo.source_uri), set(demo.keys("truncated-jpeg"))
    for key, record in _records(demo).items():
        if LABEL_ATTRIBUTE in record and key not in broken:
            with Image.open(root / key) as image:
                shown = ImageOps.exif_transpose(image)
                size = record[LABEL_ATTRIBUTE]["image_size"][0]
                assert shown.size == (size["width"], size["height"]), key


def test_every_defect_kind_is_present(demo: DemoData) -> None:
    assert {d.kind for d in demo.defects} == DEFECT_KINDS
    assert len(demo.keys("background")) >= 3
    assert len(demo.keys("png")) == 2


def test_truncated_jpeg_opens_but_does_not_decode(demo: DemoData) -> None:
    path = Path(demo.source_uri) / _defect(demo, "truncated-jpeg")
    with Image.open(path) as image:
        assert image.format == "JPEG"
        with pytest.raises(OSError, match="truncated"):
            image.load()


def test_not_an_image_is_refused_by_pillow(demo: DemoData) -> None:
    path = Path(demo.source_uri) / _defect(demo, "not-an-image")
    assert path.suffix == ".jpg"
    with pytest.raises(UnidentifiedImageError):
        Image.open(path)


def test_unlabeled_image_decodes_and_has_no_line(demo: DemoData) -> None:
    key = _defect(demo, "unlabeled")
    assert key not in _records(demo)
    assert all(key not in line for line in _lines(demo))
    with Image.open(Path(demo.source_uri) / key) as image:
        image.load()


def test_malformed_line_is_bad_json_at_its_line(demo: DemoData) -> None:
    (defect,) = [d for d in demo.defects if d.kind == "malformed-manifest-line"]
    line = _lines(demo)[defect.manifest_line - 1]
    assert defect.key in line
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)


def test_background_images_have_empty_annotations(demo: DemoData) -> None:
    records = _records(demo)
    for key in demo.keys("background"):
        label = records[key][LABEL_ATTRIBUTE]
        assert label["annotations"] == [] and records[key][METADATA]["class-map"] == {}


def test_orientation_6_is_stored_rotated_and_boxed_as_displayed(demo: DemoData) -> None:
    key = _defect(demo, "exif-orientation-6")
    size = _records(demo)[key][LABEL_ATTRIBUTE]["image_size"][0]
    with Image.open(Path(demo.source_uri) / key) as image:
        assert image.getexif()[0x0112] == 6
        assert image.size == (size["height"], size["width"])
        assert ImageOps.exif_transpose(image).size == (size["width"], size["height"])


def test_exact_and_near_duplicates(demo: DemoData) -> None:
    files, records = _files(demo), _records(demo)
    copy_key, edit_key = _defect(demo, "exact-duplicate"), _defect(demo, "near-duplicate")
    original = copy_key.replace(" (1)", "")
    assert files[copy_key] == files[original]
    edited_from = edit_key.replace("_edit", "")
    assert hashlib.sha256(files[edit_key]).digest() != hashlib.sha256(files[edited_from]).digest()
    a, b = (
        np.asarray(Image.open(io.BytesIO(files[k])).convert("L"), np.float32)
        for k in (edit_key, edited_from)
    )
    assert a.shape == b.shape and np.abs(a - b).mean() < 10
    for key, source in ((copy_key, original), (edit_key, edited_from)):
        assert records[key][LABEL_ATTRIBUTE] == records[source][LABEL_ATTRIBUTE]


def test_pngs_are_png(demo: DemoData) -> None:
    for key in demo.keys("png"):
        with Image.open(Path(demo.source_uri) / key) as image:
            assert key.endswith(".png") and image.format == "PNG"


def _thumbs(demo: DemoData, flight: str) -> dict[int, np.ndarray]:
    """Small grayscale views of a flight's plain frames by frame number (defects left out)."""
    spoiled = {d.key for d in demo.defects if d.kind not in {"background", "png"}}
    thumbs = {}
    for path in sorted((Path(demo.source_uri) / flight).glob("frame_????.*")):
        if f"{flight}/{path.name}" not in spoiled:
            with Image.open(path) as image:
                small = image.convert("L").resize((32, 18))
                thumbs[int(path.stem.split("_")[1])] = np.asarray(small, np.float32)
    return thumbs


def test_frames_of_a_burst_are_near_duplicates(demo: DemoData) -> None:
    """Consecutive frames of a burst (4 frames) look alike; frames of other bursts do not."""
    within, across = [], []
    for flight in sorted({k.split("/")[0] for k in _files(demo)}):
        thumbs = _thumbs(demo, flight)
        burst = {n: (n - 1) // 4 for n in thumbs}
        for a in thumbs:
            for b in (b for b in thumbs if b > a):
                distance = np.abs(thumbs[a] - thumbs[b]).mean()
                if burst[a] != burst[b]:
                    across.append(distance)
                elif b == a + 1:
                    within.append(distance)
    assert len(within) >= 10
    assert max(within) < min(across)


def test_objects_are_drawn_inside_their_boxes(demo: DemoData) -> None:
    """A box holds something other than the ground around it: its pixels differ more."""
    root, records = Path(demo.source_uri), _records(demo)
    key = next(k for k in sorted(records) if k.startswith("flight_01/") and k.endswith(".jpg"))
    with Image.open(root / key) as image:
        pixels = np.asarray(image.convert("RGB"), np.float32)
    for box in records[key][LABEL_ATTRIBUTE]["annotations"]:
        left, top, width, height = (box[k] for k in ("left", "top", "width", "height"))
        inside = pixels[top : top + height, left : left + width].reshape(-1, 3)
        assert inside.std(axis=0).max() > 8, box


@pytest.mark.parametrize("n_images", [0, MIN_IMAGES - 1])
def test_too_few_images_is_refused_before_writing(tmp_path: Path, n_images: int) -> None:
    with pytest.raises(ValueError, match=f"at least {MIN_IMAGES}"):
        make_demo_data(tmp_path / "demo", n_images=n_images)
    assert not (tmp_path / "demo").exists()


def test_a_raw_data_folder_not_made_here_is_refused(tmp_path: Path) -> None:
    (tmp_path / "raw-data").mkdir()
    (tmp_path / "raw-data" / "mine.jpg").write_bytes(b"x")
    with pytest.raises(FileExistsError, match="not a demo folder"):
        make_demo_data(tmp_path, n_images=MIN_IMAGES)
    assert (tmp_path / "raw-data" / "mine.jpg").read_bytes() == b"x"


def test_ensure_reuses_a_complete_demo(demo: DemoData) -> None:
    root = Path(demo.source_uri).parent
    manifest = Path(demo.annotations_uri)
    before = manifest.stat().st_mtime_ns
    assert ensure_demo_data(root, n_images=N_IMAGES, seed=SEED) == demo
    assert load_demo_data(root) == demo
    assert manifest.stat().st_mtime_ns == before


@pytest.mark.realdata
def test_metadata_has_the_fields_of_a_real_ground_truth_manifest(
    demo: DemoData, realdata: Path
) -> None:
    real = json.loads(
        (realdata / "sagemaker-gt-cat-labels" / "output.manifest").read_text().splitlines()[1]
    )
    real_label = real["cat-ground-truth"]
    ours = next(r for r in _records(demo).values() if r.get(LABEL_ATTRIBUTE, {}).get("annotations"))
    assert set(ours[METADATA]) == set(real["cat-ground-truth-metadata"])
    assert set(ours[LABEL_ATTRIBUTE]) == set(real_label)
    assert set(ours[LABEL_ATTRIBUTE]["annotations"][0]) == set(real_label["annotations"][0])
    assert set(ours[LABEL_ATTRIBUTE]["image_size"][0]) == set(real_label["image_size"][0])


def test_undecodable_and_unlabeled_keys(demo: DemoData) -> None:
    assert demo.undecodable_keys == sorted(demo.keys("truncated-jpeg") + demo.keys("not-an-image"))
    records = _records(demo)
    assert demo.unlabeled_keys and all(k not in records for k in demo.unlabeled_keys)


def test_ensure_replaces_a_demo_made_with_other_parameters(tmp_path: Path) -> None:
    first = ensure_demo_data(tmp_path, n_images=MIN_IMAGES + 2, seed=1)
    second = ensure_demo_data(tmp_path, n_images=MIN_IMAGES, seed=1)
    assert (first.n_frames, second.n_frames) == (MIN_IMAGES + 2, MIN_IMAGES)
    assert len(_files(second)) == second.n_images  # nothing left over from the first
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_demo_inputs_are_what_the_flow_reads(demo: DemoData) -> None:
    from tasks.demo import demo_task

    assert demo_task.fn is demo_inputs
    root, manifest = Path(demo.source_uri).parent, Path(demo.annotations_uri)
    before = manifest.stat().st_mtime_ns
    inputs = demo_inputs(str(root), n_images=N_IMAGES, seed=SEED)
    assert inputs == (demo.source_uri, [demo.annotations_uri])
    assert manifest.stat().st_mtime_ns == before  # reused, not made again


def test_orientation_6_frame_is_upright_once_transposed(demo: DemoData) -> None:
    """Turned as EXIF says, the frame looks like its burst neighbour; turned the other way, not."""
    key = _defect(demo, "exif-orientation-6")
    flight, name = key.split("/")
    number = int(name.removeprefix("frame_").removesuffix(".jpg"))
    thumbs = _thumbs(demo, flight)
    same_burst = [
        n for n in (number + 1, number - 1) if n in thumbs and (n - 1) // 4 == (number - 1) // 4
    ]
    neighbour = same_burst[0]
    with Image.open(Path(demo.source_uri) / key) as image:
        upright = ImageOps.exif_transpose(image).convert("L").resize((32, 18))
        wrong_way = image.convert("L").transpose(Image.Transpose.ROTATE_90).resize((32, 18))
    near = np.abs(np.asarray(upright, np.float32) - thumbs[neighbour]).mean()
    wrong = np.abs(np.asarray(wrong_way, np.float32) - thumbs[neighbour]).mean()
    print(f"\nupright {near:.1f}, turned the other way {wrong:.1f}")
    assert near < 6 < wrong, (near, wrong)
