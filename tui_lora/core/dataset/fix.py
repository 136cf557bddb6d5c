"""``check --fix``: repair what can be repaired, move what cannot be read to the trash.

Every change keeps the original in dataset/.trash/ first (see trash.py), so `tui-lora restore`
undoes it exactly. What each problem gets is in checks.PROBLEMS[...].fix.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui_lora.core.dataset import trash as trash_mod
from tui_lora.core.dataset.captions import decode_any, format_tags, parse_tags, read_caption, replace_tag
from tui_lora.core.dataset.checks import Problem
from tui_lora.core.dataset.probe import oriented
from tui_lora.core.dataset.records import FileRecord
from tui_lora.core.errors import UserError
from tui_lora.core.safepath import is_link

if TYPE_CHECKING:  # pragma: no cover
    from tui_lora.core.project import Project

Progress = Callable[[int, int], None]

UNREADABLE = (Problem.EMPTY, Problem.NOT_IMAGE, Problem.CORRUPT, Problem.TOO_LARGE)
PIXEL_FIXES = (Problem.TRANSPARENCY, Problem.ANIMATED, Problem.COLOR_MODE, Problem.ROTATED, Problem.UNSUPPORTED)
TRANSPARENT_TAG = "transparent background"
WHITE_TAGS = ["white background", "simple background"]

# Pillow format and save options by file extension (what the file keeps being).
_SAVE: dict[str, tuple[str, dict[str, Any]]] = {
    ".png": ("PNG", {}),
    ".jpg": ("JPEG", {"quality": 95, "subsampling": 0}),
    ".jpeg": ("JPEG", {"quality": 95, "subsampling": 0}),
    ".webp": ("WEBP", {"quality": 95, "method": 4}),
    ".bmp": ("BMP", {}),
    ".avif": ("AVIF", {"quality": 90}),
}


@dataclass
class FixResult:
    path: Path  # the file as it was
    action: str  # "fixed", "converted", "trashed" or "skipped"
    codes: list[Problem]
    message: str
    new_path: Path | None = None
    entry_id: str | None = None  # the trash entry holding the original

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "action": self.action, "codes": [c.value for c in self.codes],
                "message": self.message, "new_path": str(self.new_path) if self.new_path else None,
                "trash_id": self.entry_id}


@dataclass
class FixReport:
    results: list[FixResult] = field(default_factory=list)
    cancelled: bool = False

    def count(self, action: str) -> int:
        return sum(1 for r in self.results if r.action == action)

    def to_dict(self) -> dict[str, Any]:
        return {"fixed": self.count("fixed") + self.count("converted"), "trashed": self.count("trashed"),
                "skipped": self.count("skipped"), "cancelled": self.cancelled,
                "results": [r.to_dict() for r in self.results]}


def fix(
    project: "Project",
    targets: Sequence[FileRecord | Path] | None = None,
    *,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> FixReport:
    """Fix scan records or files (default: scan the dataset and fix everything fixable).

    Paths are looked up in a fresh scan (cheap: it is cached), so the fix works from what the
    files are now.
    """
    if targets is None or any(not isinstance(t, FileRecord) for t in targets):
        from tui_lora.core.dataset.scan import scan

        scanned = scan(project, cancel=cancel).records
        if targets is None:
            records: Sequence[FileRecord] = scanned
        else:
            wanted = {Path(t.path if isinstance(t, FileRecord) else t).absolute() for t in targets}
            records = [r for r in scanned if r.path.absolute() in wanted]
    else:
        records = targets
    ext = project.settings["dataset"]["caption_extension"] or ".txt"
    return fix_records(project.dataset_dir, records, caption_extension=ext, progress=progress, cancel=cancel)


def fix_records(
    dataset_dir: Path,
    records: Sequence[FileRecord],
    *,
    caption_extension: str = ".txt",
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> FixReport:
    todo = [r for r in records if r.fixable]
    report = FixReport()
    for n, rec in enumerate(todo):
        if cancel is not None and cancel.is_set():
            report.cancelled = True
            break
        try:
            report.results.append(_fix_one(dataset_dir, rec, caption_extension))
        except OSError as exc:
            report.results.append(FixResult(rec.path, "skipped", [], f"could not write: {exc.strerror or exc}"))
        except UserError as exc:  # e.g. it lies in a linked folder: refused before anything moved
            report.results.append(FixResult(rec.path, "skipped", [], exc.message))
        if progress:
            progress(n + 1, len(todo))
    return report


def _fix_one(dataset_dir: Path, rec: FileRecord, caption_ext: str) -> FixResult:
    codes = [i.code for i in rec.issues if i.fixable]
    if is_link(rec.path):  # never moved, never rewritten through: it may point anywhere
        return FixResult(rec.path, "skipped", [], "it is a symbolic link, which tui-lora leaves alone")
    if not rec.path.exists():
        return FixResult(rec.path, "skipped", [], "it is no longer there")
    if rec.kind == "caption":  # a caption without an image
        entry = trash_mod.trash_files(dataset_dir, [rec.path], reason="caption without image")[0]
        return FixResult(rec.path, "trashed", codes, "moved to the trash", entry_id=entry.id)
    bad = [c for c in codes if c in UNREADABLE]
    if bad:
        entry = trash_mod.trash_files(dataset_dir, [rec.path], reason=f"unreadable ({bad[0].value})",
                                      caption_extension=caption_ext)[0]
        what = "moved to the trash" + (" with its caption" if len(entry.files) > 1 else "")
        return FixResult(rec.path, "trashed", bad, what, entry_id=entry.id)

    items: list[trash_mod.Replacement] = []
    done: list[Problem] = []
    new_path = None
    pixel = [c for c in codes if c in PIXEL_FIXES]
    if pixel:
        target = rec.path.with_suffix(".png") if Problem.UNSUPPORTED in pixel else rec.path
        if target != rec.path and target.exists():
            return FixResult(rec.path, "skipped", pixel, f"{target.name} already exists; rename one of them first")
        items.append(trash_mod.Replacement(rec.path, _fixed_image_bytes(rec, target.suffix.lower()), target))
        done += pixel
        new_path = target if target != rec.path else None

    cap = rec.caption if rec.caption and rec.caption.exists() and not is_link(rec.caption) else None
    if cap is not None and (Problem.TRANSPARENCY in pixel or rec.has(Problem.CAPTION_ENCODING)):
        cf = read_caption(cap)
        bad_encoding = bool(cf.error) or cf.has_bom
        new_text = decode_any(cf.raw or b"")[0] if bad_encoding else cf.text
        if Problem.TRANSPARENCY in pixel:
            tags = parse_tags(new_text)
            replaced = replace_tag(tags, TRANSPARENT_TAG, WHITE_TAGS)
            if replaced != tags:
                new_text = format_tags(replaced)
        if new_text != cf.text or bad_encoding:
            items.append(trash_mod.Replacement(cap, new_text.encode("utf-8")))
            if rec.has(Problem.CAPTION_ENCODING):
                done.append(Problem.CAPTION_ENCODING)
    if not items:
        return FixResult(rec.path, "skipped", [], "nothing to change")
    entry = trash_mod.replace_files(dataset_dir, items, reason="fix: " + ", ".join(c.value for c in done))
    action = "converted" if new_path else "fixed"
    what = "; ".join(_describe(c) for c in done)
    return FixResult(rec.path, action, done, what, new_path=new_path, entry_id=entry.id)


def _describe(code: Problem) -> str:
    return {
        Problem.TRANSPARENCY: "flattened onto white",
        Problem.ANIMATED: "kept the first frame",
        Problem.COLOR_MODE: "converted to RGB",
        Problem.ROTATED: "applied the EXIF rotation",
        Problem.UNSUPPORTED: "converted to PNG",
        Problem.CAPTION_ENCODING: "caption re-saved as UTF-8",
    }.get(code, code.value)


def _fixed_image_bytes(rec: FileRecord, suffix: str) -> bytes:
    from PIL import Image

    with Image.open(rec.path) as im:
        im.seek(0)
        icc = im.info.get("icc_profile")
        src_mode = im.mode
        im.load()
        out = _to_rgb(im, icc)
    if rec.orientation != 1:
        out = oriented(out, rec.orientation)
    # Keep a colour profile the pixels are still in (not a CMYK one we converted away from).
    return encode_image(out, suffix, icc if src_mode in ("RGB", "RGBA", "P") else None)


def encode_image(img, suffix: str, icc: bytes | None = None) -> bytes:
    """The image as the file format its extension names (PNG for anything unknown)."""
    fmt, opts = _SAVE.get(suffix.lower(), ("PNG", {}))
    if icc:
        opts = {**opts, "icc_profile": icc}
    if fmt == "JPEG" and img.mode not in ("RGB", "L", "CMYK"):
        img = img.convert("RGB")
    buf = io.BytesIO()
    img.save(buf, fmt, **opts)
    return buf.getvalue()


def _to_rgb(im, icc: bytes | None):
    """RGB pixels (transparency composited onto white; CMYK through its ICC profile if any)."""
    from PIL import Image

    if im.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in im.info:
        rgba = im.convert("RGBA")
        out = Image.new("RGB", rgba.size, (255, 255, 255))
        out.paste(rgba, mask=rgba.getchannel("A"))
        return out
    if im.mode == "CMYK" and icc:
        try:
            from PIL import ImageCms

            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            return ImageCms.profileToProfile(im, src, ImageCms.createProfile("sRGB"), outputMode="RGB")
        except Exception:  # noqa: BLE001 - a broken profile: fall back to Pillow's plain conversion
            pass
    if im.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        import numpy as np

        a = np.asarray(im, dtype=np.float64)
        hi = a.max() or 1.0
        return Image.fromarray((a / hi * 255).clip(0, 255).astype("uint8"), "L").convert("RGB")
    return im.convert("RGB")
