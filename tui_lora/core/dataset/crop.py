"""Crop images to 1:1, 2:3 or 3:2 for training without aspect-ratio buckets.

Three modes, as in the training guides: ``center`` cuts equally from both sides; ``focus``
keeps the most salient region (smartcrop-style: edges, saturated colour and skin tones, with
a gentle pull towards the middle); ``pad`` cuts nothing and letterboxes onto white instead.
The largest window of the target aspect is used, then resized so the short side is ``size``.
Originals go to dataset/.trash/ (restorable); captions stay as they are.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tui_lora.core.dataset import trash as trash_mod
from tui_lora.core.errors import Fix, UserError

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image

    from tui_lora.core.project import Project

Progress = Callable[[int, int], None]
ASPECTS: dict[str, tuple[int, int]] = {"1:1": (1, 1), "2:3": (2, 3), "3:2": (3, 2)}
MODES = ("center", "focus", "pad")
_ANALYSIS = 256  # saliency is computed on an image this size (long side)

# smartcrop's skin colour (normalised RGB) and how much each cue counts.
_SKIN = np.array([0.78, 0.57, 0.44]) / np.linalg.norm([0.78, 0.57, 0.44])
_W_EDGE, _W_SAT, _W_SKIN = 1.0, 0.5, 1.5


def parse_aspect(text: str) -> tuple[int, int]:
    if text not in ASPECTS:
        raise UserError(f"Unknown aspect ratio {text!r}", Fix(f"use one of {', '.join(ASPECTS)} (width:height)"))
    return ASPECTS[text]


def output_size(aspect: tuple[int, int], size: int) -> tuple[int, int]:
    """(width, height) with the short side ``size``: 2:3 at 512 → 512×768."""
    aw, ah = aspect
    if aw <= ah:
        return size, round(size * ah / aw)
    return round(size * aw / ah), size


# ----- where to cut ---------------------------------------------------------------------------
def saliency_map(img: "Image.Image") -> np.ndarray:
    """Per-pixel interest in [0, ~1] of an RGB image: detail, colourfulness and skin."""
    a = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0
    luma = a @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    lap = np.zeros_like(luma)
    lap[1:-1, 1:-1] = np.abs(4 * luma[1:-1, 1:-1] - luma[:-2, 1:-1] - luma[2:, 1:-1]
                             - luma[1:-1, :-2] - luma[1:-1, 2:])
    hi, lo = a.max(axis=2), a.min(axis=2)
    sat = np.where(hi > 0, (hi - lo) / np.maximum(hi, 1e-6), 0.0)
    sat *= (luma > 0.05) & (luma < 0.95)  # near-black and near-white "colour" is noise
    norm = a / np.maximum(np.linalg.norm(a, axis=2, keepdims=True), 1e-6)
    skin = 1.0 - np.linalg.norm(norm - _SKIN, axis=2)
    skin = np.clip((skin - 0.8) / 0.2, 0.0, 1.0) * ((luma > 0.2) & (luma < 0.99))

    def unit(x: np.ndarray) -> np.ndarray:
        top = float(np.percentile(x, 99)) if x.size else 0.0
        return np.clip(x / top, 0, 1) if top > 1e-6 else np.zeros_like(x)

    return _W_EDGE * unit(lap) + _W_SAT * sat + _W_SKIN * skin


def focus_offset(profile: np.ndarray, window: int) -> int:
    """Start of the window over a 1-D interest profile with the most interest, centre-weighted.

    The tent weighting (1 in the middle of the window, 0.5 at its edges) prefers windows that
    hold the interesting part well inside rather than touching a border.
    """
    n = len(profile)
    if window >= n:
        return 0
    x = np.linspace(-1.0, 1.0, window)
    kernel = 1.0 - 0.5 * np.abs(x)
    scores = np.convolve(profile, kernel[::-1], mode="valid")  # scores[o] = Σ profile[o+i]·k[i]
    # Ties (a flat image) go to the centre.
    centre = (n - window) / 2
    best = np.flatnonzero(scores >= scores.max() - 1e-9)
    return int(best[np.argmin(np.abs(best - centre))])


def crop_box(size: tuple[int, int], aspect: tuple[int, int], mode: str = "center",
             saliency: np.ndarray | None = None) -> tuple[int, int, int, int]:
    """The largest box of ``aspect`` inside an image of ``size`` (left, top, right, bottom)."""
    w, h = size
    aw, ah = aspect
    if w * ah > h * aw:  # too wide: cut width
        cw, ch = round(h * aw / ah), h
    else:
        cw, ch = w, round(w * ah / aw)
    cw, ch = max(1, min(w, cw)), max(1, min(h, ch))
    x0, y0 = (w - cw) // 2, (h - ch) // 2
    if mode == "focus" and saliency is not None and (cw < w or ch < h):
        sh, sw = saliency.shape
        if cw < w:
            win = max(1, round(cw * sw / w))
            x0 = round(focus_offset(saliency.sum(axis=0), win) * w / sw)
            x0 = min(max(0, x0), w - cw)
        else:
            win = max(1, round(ch * sh / h))
            y0 = round(focus_offset(saliency.sum(axis=1), win) * h / sh)
            y0 = min(max(0, y0), h - ch)
    return x0, y0, x0 + cw, y0 + ch


def crop_image(img: "Image.Image", aspect: tuple[int, int], size: int, mode: str = "center",
               *, upscale: bool = True) -> tuple["Image.Image", tuple[int, int, int, int], bool]:
    """(the cropped and resized image, the box cut from ``img``, whether it was upscaled)."""
    from PIL import Image

    if mode not in MODES:
        raise UserError(f"Unknown crop mode {mode!r}", Fix(f"use one of {', '.join(MODES)}"))
    tw, th = output_size(aspect, size)
    w, h = img.size
    if mode == "pad":
        scale = min(tw / w, th / h)
        canvas_w, canvas_h = tw, th
        if scale > 1 and not upscale:  # the smallest canvas of the aspect that holds it as it is
            scale = 1.0
            aw, ah = aspect
            canvas_w, canvas_h = (w, round(w * ah / aw)) if w * ah >= h * aw else (round(h * aw / ah), h)
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        mode_out = "RGBA" if img.mode in ("RGBA", "LA", "PA") else "RGB"
        canvas = Image.new(mode_out, (canvas_w, canvas_h), (255, 255, 255, 0) if mode_out == "RGBA" else (255, 255, 255))
        resized = img.convert(mode_out).resize((nw, nh), Image.Resampling.LANCZOS)
        canvas.paste(resized, ((canvas_w - nw) // 2, (canvas_h - nh) // 2))
        return canvas, (0, 0, w, h), scale > 1.0
    sal = None
    if mode == "focus":
        small = img.convert("RGB")
        small.thumbnail((_ANALYSIS, _ANALYSIS), Image.Resampling.BILINEAR)
        sal = saliency_map(small)
    box = crop_box((w, h), aspect, mode, sal)
    cw, ch = box[2] - box[0], box[3] - box[1]
    upscaled = cw < tw
    if not upscale and upscaled:
        tw, th = cw, ch
    out = img.crop(box).resize((tw, th), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return out, box, upscale and upscaled


# ----- over a dataset ----------------------------------------------------------------------------
@dataclass
class CropResult:
    path: Path
    action: str  # "cropped", "unchanged" (already that size), "skipped" (does not decode), "planned"
    box: tuple[int, int, int, int] | None = None
    source_size: tuple[int, int] | None = None
    size: tuple[int, int] | None = None
    upscaled: bool = False
    message: str = ""
    entry_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "action": self.action, "box": self.box, "source_size": self.source_size,
                "size": self.size, "upscaled": self.upscaled, "message": self.message, "trash_id": self.entry_id}


@dataclass
class CropReport:
    aspect: str
    size: tuple[int, int]
    mode: str
    results: list[CropResult] = field(default_factory=list)
    cancelled: bool = False
    dry_run: bool = False

    def count(self, action: str) -> int:
        return sum(1 for r in self.results if r.action == action)

    def to_dict(self) -> dict[str, Any]:
        return {"aspect": self.aspect, "size": list(self.size), "mode": self.mode, "dry_run": self.dry_run,
                "cropped": self.count("cropped"), "planned": self.count("planned"),
                "unchanged": self.count("unchanged"), "skipped": self.count("skipped"),
                "upscaled": sum(1 for r in self.results if r.upscaled), "cancelled": self.cancelled,
                "results": [r.to_dict() for r in self.results]}


def crop_images(
    project: "Project",
    paths: Sequence[Path] | None = None,
    *,
    aspect: str = "1:1",
    size: int | None = None,
    mode: str = "center",
    upscale: bool = True,
    dry_run: bool = False,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> CropReport:
    """Crop the given images (default: every image in the concept folders) in place."""
    from tui_lora.core.dataset.folders import list_images

    size = size or int(project.settings["dataset"]["resolution"])
    ratio = parse_aspect(aspect)
    if mode not in MODES:
        raise UserError(f"Unknown crop mode {mode!r}", Fix(f"use one of {', '.join(MODES)}"))
    if paths is None:
        paths = [p for c in project.concepts() for p in list_images(c.path)]
    report = CropReport(aspect, output_size(ratio, size), mode, dry_run=dry_run)
    for n, path in enumerate(paths):
        if cancel is not None and cancel.is_set():
            report.cancelled = True
            break
        report.results.append(_crop_one(project.dataset_dir, Path(path), ratio, size, mode, upscale, dry_run))
        if progress:
            progress(n + 1, len(paths))
    return report


def _crop_one(dataset_dir: Path, path: Path, ratio: tuple[int, int], size: int, mode: str,
              upscale: bool, dry_run: bool) -> CropResult:
    from PIL import Image, ImageOps

    from tui_lora.core.dataset.fix import encode_image
    from tui_lora.core.dataset.probe import MAX_PIXELS

    if path.is_symlink():  # never rewritten through: it may point anywhere
        return CropResult(path, "skipped", message="it is a symbolic link, which tui-lora leaves alone")
    try:
        with warnings.catch_warnings():  # a huge image is reported below, not as Pillow's raw warning
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                if im.size[0] * im.size[1] > MAX_PIXELS:
                    return CropResult(path, "skipped", message="too large to open safely; run `tui-lora check`")
                im.seek(0)
                icc = im.info.get("icc_profile")
                img = ImageOps.exif_transpose(im)  # crop what a viewer shows
                img.load()
    except Image.DecompressionBombError:
        return CropResult(path, "skipped", message="too large to open safely; run `tui-lora check`")
    except Exception as exc:  # noqa: BLE001 - an unreadable image is reported, not fatal
        return CropResult(path, "skipped", message=f"does not decode ({exc}); run `tui-lora check --fix`")
    target = output_size(ratio, size)
    if img.size == target:
        return CropResult(path, "unchanged", source_size=img.size, size=target, message="already that size")
    out, box, upscaled = crop_image(img, ratio, size, mode, upscale=upscale)
    result = CropResult(path, "planned" if dry_run else "cropped", box=box, source_size=img.size,
                        size=out.size, upscaled=upscaled)
    if dry_run:
        return result
    data = encode_image(out, path.suffix, icc if img.mode in ("RGB", "RGBA") else None)
    try:
        entry = trash_mod.replace_files(dataset_dir, [trash_mod.Replacement(path, data)], reason=f"crop {mode}")
    except UserError as exc:  # e.g. in a linked folder: refused before anything moved
        return CropResult(path, "skipped", message=exc.message)
    result.entry_id = entry.id
    return result
