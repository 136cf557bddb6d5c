"""Benchmark: dataset scan + hashing vs a naive loop, and the cached second scan.

    python benchmarks/dataset_scan.py [--n 5000] [--cache-dir DIR] [--skip-naive]

Generates N 1024-px images once (70 % JPEG q90, 30 % PNG; square, 4:3 and 3:4; shapes on a
textured background, so files are photo-sized) into a cache folder and reuses them on later
runs. Then, with the files in the page cache for every contender:

* naive: a single-threaded loop that opens and fully decodes each image, takes imagehash's
  pHash and the SHA-256 of its bytes (what a notebook does);
* scan (cold): ``scan_folder`` with an empty cache: decode-verify, every check, content hash,
  the 256-window fingerprint; once on one thread (the naive loop's CPU budget), once on the
  thread pool;
* scan (cached): the same scan again, answered from .cache/dataset.sqlite;
* dedupe: grouping the cold scan's fingerprints (all images are distinct, so every group
  found would be a false positive).

Prints a table with the ratios.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SIZES = [(1024, 1024)] * 6 + [(1024, 768)] * 2 + [(768, 1024)] * 2


def _grain_tile():
    """Fine film-grain noise shared by all images (high frequencies only: it cannot make two
    images look alike to a low-frequency hash, unlike a shared shading pattern would)."""
    import numpy as np

    return np.random.default_rng(12345).normal(0, 4, (1040, 1040, 3)).astype(np.float32)


def _shading(i: int, w: int, h: int):
    """Each image's own low-frequency shading, so files compress like photos, not flat shapes."""
    import numpy as np
    from PIL import Image

    coarse = np.random.default_rng(i).normal(0, 18, (h // 8, w // 8, 3)) + 128
    up = Image.fromarray(coarse.clip(0, 255).astype("uint8")).resize((w, h), Image.Resampling.BICUBIC)
    return np.asarray(up, dtype=np.float32) - 128


def _make_one(args) -> None:
    i, folder = args
    import numpy as np
    from PIL import Image

    from tui_lora.demo.datasets import make_caption, make_image

    grain = _TILE if _TILE is not None else _grain_tile()
    w, h = SIZES[i % len(SIZES)]
    img = np.asarray(make_image(1_000_000 + i, (w, h)), dtype=np.float32)
    dy, dx = (i * 37) % 16, (i * 53) % 16
    img = (img + _shading(i, w, h) + grain[dy:dy + h, dx:dx + w]).clip(0, 255).astype("uint8")
    pil = Image.fromarray(img)
    name = f"img_{i:05d}"
    if i % 10 < 7:
        pil.save(folder / f"{name}.jpg", quality=90)
    else:
        pil.save(folder / f"{name}.png", compress_level=6)
    (folder / f"{name}.txt").write_text(make_caption(i, "ohwx"), encoding="utf-8")


_TILE = None


def _init_worker() -> None:
    global _TILE
    _TILE = _grain_tile()


def ensure_images(n: int, cache_dir: Path) -> Path:
    """The benchmark dataset (generated once, then reused): returns its dataset/ folder."""
    root = cache_dir / f"dataset-{n}-v2"  # v2: every image has its own shading
    folder = root / "dataset" / "10_ohwx"
    done = root / "COMPLETE"
    if done.exists():
        return root / "dataset"
    folder.mkdir(parents=True, exist_ok=True)
    have = {p.stem for p in folder.iterdir() if p.suffix in (".jpg", ".png")}
    todo = [(i, folder) for i in range(n) if f"img_{i:05d}" not in have]
    print(f"Generating {len(todo)} of {n} images into {folder} (once; later runs reuse them)...", flush=True)
    t = time.perf_counter()
    with ProcessPoolExecutor(max_workers=os.cpu_count(), initializer=_init_worker) as ex:
        for k, _ in enumerate(ex.map(_make_one, todo, chunksize=16), 1):
            if k % 500 == 0:
                print(f"  {k}/{len(todo)} ({time.perf_counter() - t:.0f} s)", flush=True)
    done.write_text(str(n))
    return root / "dataset"


def images_in(dataset: Path) -> list[Path]:
    return sorted(p for p in (dataset / "10_ohwx").iterdir() if p.suffix in (".jpg", ".png"))


def warm_page_cache(paths: list[Path]) -> int:
    total = 0
    for p in paths:
        total += len(p.read_bytes())
    return total


def naive(paths: list[Path]) -> float:
    import imagehash
    from PIL import Image

    t = time.perf_counter()
    for p in paths:
        with Image.open(p) as im:
            im.load()
            imagehash.phash(im)
        hashlib.sha256(p.read_bytes()).hexdigest()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--cache-dir", type=Path,
                    default=Path(os.environ.get("TUI_LORA_BENCH_CACHE", Path.home() / ".cache" / "tui-lora-bench")))
    ap.add_argument("--skip-naive", action="store_true", help="skip the (slow) naive baseline")
    ap.add_argument("--workers", type=int, default=None)
    args = ap.parse_args()

    import PIL

    from tui_lora.core.dataset.dedupe import HashBackend, find_in_records
    from tui_lora.core.dataset.records import Limits
    from tui_lora.core.dataset.scan import default_workers, scan_folder

    dataset = ensure_images(args.n, args.cache_dir)
    paths = images_in(dataset)[: args.n]
    size = warm_page_cache(paths)
    workers = args.workers or default_workers()
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.processor())
    print(f"Machine: {cpu}, {len(os.sched_getaffinity(0))} usable cores, load average "
          f"{os.getloadavg()[0]:.1f}; Python {platform.python_version()}, Pillow {PIL.__version__}")
    print(f"Dataset: {len(paths)} images ({size / 2**30:.2f} GiB, JPEG and PNG), page cache warm; "
          f"scan threads: {workers}")

    rows = []
    t_naive = None
    if not args.skip_naive:
        t_naive = naive(paths)
        rows.append(("naive loop (1 thread: decode + imagehash.phash + sha256)", t_naive))
    limits = Limits(family="sdxl", resolution=1024)
    if not args.skip_naive:
        with tempfile.TemporaryDirectory(prefix="tui-lora-bench-cache-") as cache:
            t = time.perf_counter()
            scan_folder(dataset, Path(cache), limits, workers=1)
            rows.append(("scan, empty cache, 1 thread (same CPU budget as naive)", time.perf_counter() - t))
    with tempfile.TemporaryDirectory(prefix="tui-lora-bench-cache-") as cache:
        t = time.perf_counter()
        cold = scan_folder(dataset, Path(cache), limits, workers=workers)
        t_cold = time.perf_counter() - t
        assert cold.decoded == len(paths), (cold.decoded, len(paths))
        rows.append((f"scan, empty cache, {workers} threads (checks + sha256 + fingerprint)", t_cold))
        t = time.perf_counter()
        warm = scan_folder(dataset, Path(cache), limits, workers=workers)
        t_warm = time.perf_counter() - t
        assert warm.cached == len(paths), (warm.cached, len(paths))
        rows.append(("scan again, cached (nothing changed)", t_warm))
        t = time.perf_counter()
        report = find_in_records(cold.images, HashBackend())
        t_dd = time.perf_counter() - t
        rows.append((f"dedupe of the scanned images ({len(report.groups)} false groups)", t_dd))

    print()
    print(f"| {'run':<66} | {'seconds':>8} | {'images/s':>9} | {'vs naive':>8} |")
    print(f"|{'-' * 68}|{'-' * 10}|{'-' * 11}|{'-' * 10}|")
    for name, secs in rows:
        ratio = f"{t_naive / secs:.1f}x" if t_naive else "-"
        print(f"| {name:<66} | {secs:8.2f} | {len(paths) / secs:9.0f} | {ratio:>8} |")
    print()
    print(f"cached scan vs first scan: {t_cold / t_warm:.0f}x faster (goal >= 10x)")
    if t_naive:
        print(f"first scan vs naive loop: {t_naive / t_cold:.1f}x faster")


if __name__ == "__main__":
    main()
