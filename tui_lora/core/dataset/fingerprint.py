"""Perceptual fingerprints that survive resizing, recompression and slight crops.

A plain pHash (imagehash's DCT hash) matches resized and recompressed copies, but a crop of
5 % moves every edge and changes the hash as much as a different picture would. So each image
gets the same DCT hash computed over a set of *windows* (the full frame plus sub-frames from
97 % down to 85 % of the width and of the height, at the start, middle and end of the slack). A cropped copy
then matches one window of the original almost exactly, and the distance between two images is
the best match of one's full-frame hash against the other's windows (both ways round).

The hashes are imagehash's pHash algorithm (DCT low frequencies above their median) at
12×12 = 144 bits, computed for all 256 windows in one separable matrix product (~2 ms) instead of 256 calls to
``imagehash.phash``. A horizontally mirrored copy is
caught too: mirroring only flips the sign of odd horizontal frequencies.

The hashes see grey only, so the fingerprint also keeps the mean colour: two differently
coloured pictures with the same layout are not copies of each other.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image

HASH_SIZE = 12  # 12×12 DCT coefficients → 144 bits
HASH_BITS = HASH_SIZE * HASH_SIZE
HASH_BYTES = HASH_BITS // 8  # 18
WORK = 128  # the working image side; windows are projected straight from it
SCALES = (1.0, 0.97, 0.94, 0.91, 0.88, 0.85)  # 3 % steps: a crop between two is ≤1.5 % off
VERSION = 2  # bump when anything here changes: cached fingerprints are then recomputed


def _axis_windows() -> list[tuple[float, float]]:
    """(start, length) pairs along one axis, as fractions of the side."""
    out = []
    for s in SCALES:
        slack = 1.0 - s
        offsets = [0.0] if slack <= 0 else [0.0, slack / 2, slack]
        out.extend((o, s) for o in offsets)
    return out


AXIS = _axis_windows()
# Window k covers AXIS[k // len(AXIS)] vertically and AXIS[k % len(AXIS)] horizontally.
WINDOWS: tuple[tuple[float, float, float, float], ...] = tuple(
    (x0, y0, x0 + sx, y0 + sy) for (y0, sy) in AXIS for (x0, sx) in AXIS
)
N_WINDOWS = len(WINDOWS)
# width/height scale of each window: a crop of A with this ratio has aspect(A) × ratio.
WINDOW_RATIO = np.array([(b[2] - b[0]) / (b[3] - b[1]) for b in WINDOWS], dtype=np.float64)
HASHES_BYTES = (N_WINDOWS + 1) * HASH_BYTES  # every window, then the mirrored full frame
FINGERPRINT_BYTES = HASHES_BYTES + 3  # … then the mean R, G, B (hashes see only grey)
_MIRROR_SIGN = np.where(np.arange(HASH_SIZE) % 2 == 1, -1.0, 1.0).astype(np.float32)  # odd x-frequencies


@lru_cache(maxsize=1)
def _bases() -> tuple[np.ndarray, np.ndarray]:
    """Per-axis-window DCT-II bases over the working image: shape (len(AXIS), HASH_SIZE, WORK).

    Pixel i covers [i, i+1) of the side; a window's basis is the orthonormal DCT-II of the
    window's span, integrated over each pixel's overlap with the window (exact at borders).
    """
    rows = []
    for start, length in AXIS:
        a, b = start * WORK, (start + length) * WORK
        basis = np.zeros((HASH_SIZE, WORK), dtype=np.float64)
        for i in range(WORK):
            lo, hi = max(a, i), min(b, i + 1)
            if hi <= lo:
                continue
            # ∫ cos(pi k (t - a) / L) dt over [lo, hi], t in pixels, L = window length
            L = b - a
            for k in range(HASH_SIZE):
                if k == 0:
                    val = hi - lo
                else:
                    w = math.pi * k / L
                    val = (math.sin(w * (hi - a)) - math.sin(w * (lo - a))) / w
                scale = math.sqrt(1 / L) if k == 0 else math.sqrt(2 / L)
                basis[k, i] = val * scale
        rows.append(basis)
    stacked = np.stack(rows).astype(np.float32)
    return stacked, stacked  # vertical and horizontal bases are the same set


def working_image(img: "Image.Image") -> tuple[np.ndarray, np.ndarray]:
    """(the image as WORK×WORK grayscale floats, its mean R, G, B).

    The aspect ratio is squeezed away: windows are fractions of each side.
    """
    from PIL import Image

    small = img if img.mode in ("L", "RGB") else img.convert("RGB")
    small = small.resize((WORK, WORK), Image.Resampling.BILINEAR, reducing_gap=2.0)
    rgb = np.asarray(small.convert("RGB"), dtype=np.float32)
    mean = rgb.reshape(-1, 3).mean(axis=0)
    return rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32), mean


def fingerprint(img: "Image.Image") -> bytes:
    """Window hashes, the mirrored full-frame hash and the mean colour of an RGB/L image."""
    x, mean = working_image(img)
    vb, hb = _bases()
    n = len(AXIS)
    # Separable 2-D DCT of every window: rows[j] = vb[j] @ x, then coeffs[j, i] = rows[j] @ hb[i].T.
    # Stacked small products on purpose: each stays under OpenBLAS's size for going
    # multi-threaded, which inside the scan's thread pool would only oversubscribe the cores.
    rows = np.matmul(vb, x)  # (n, H, WORK)
    coeffs = np.matmul(rows[:, None], hb.transpose(0, 2, 1)[None]).reshape(n * n, HASH_SIZE, HASH_SIZE)
    allc = np.empty((n * n + 1, HASH_SIZE, HASH_SIZE), dtype=np.float32)
    allc[:-1] = coeffs
    allc[-1] = coeffs[0] * _MIRROR_SIGN
    allc = allc.reshape(n * n + 1, HASH_BITS)
    # above the median, as pHash does; the two middle values of 144 by partition (faster than median)
    mid = np.partition(allc, (HASH_BITS // 2 - 1, HASH_BITS // 2), axis=1)
    med = (mid[:, HASH_BITS // 2 - 1] + mid[:, HASH_BITS // 2]) * 0.5
    colour = np.clip(np.round(mean), 0, 255).astype(np.uint8).tobytes()
    return np.packbits(allc > med[:, None], axis=1).tobytes() + colour


def as_words(fp: bytes) -> np.ndarray:
    """A fingerprint as (N_WINDOWS + 1, 3) uint64 words (zero-padded to 192 bits) for XOR+popcount."""
    raw = np.frombuffer(fp, dtype=np.uint8, count=HASHES_BYTES).reshape(N_WINDOWS + 1, HASH_BYTES)
    padded = np.zeros((N_WINDOWS + 1, 24), dtype=np.uint8)
    padded[:, :HASH_BYTES] = raw
    return padded.view(np.uint64)


def mean_colour(fp: bytes) -> np.ndarray:
    """The mean R, G, B (0–255) stored at the end of a fingerprint."""
    return np.frombuffer(fp, dtype=np.uint8, offset=HASHES_BYTES, count=3).astype(np.int16)


if hasattr(np, "bitwise_count"):
    def popcount(a: np.ndarray) -> np.ndarray:
        return np.bitwise_count(a)
else:  # numpy < 2.0
    _LUT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)

    def popcount(a: np.ndarray) -> np.ndarray:
        b = a.view(np.uint8).reshape(*a.shape, 8)
        return _LUT[b].sum(axis=-1, dtype=np.uint64)


def distance(a: bytes, b: bytes) -> int:
    """Best-aligned Hamming distance (0–144) between two fingerprints' hashes (no aspect or
    colour check: that is the dedupe backend's job)."""
    wa, wb = as_words(a), as_words(b)
    d1 = popcount(wb[:N_WINDOWS] ^ wa[0]).sum(axis=1).min()
    d2 = popcount(wa[:N_WINDOWS] ^ wb[0]).sum(axis=1).min()
    d3 = popcount(wa[N_WINDOWS] ^ wb[0]).sum()
    return int(min(d1, d2, d3))
