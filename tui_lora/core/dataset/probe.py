"""Decode one image file, once, into everything the review needs.

One pass gives: the content hash, whether the file decodes completely, size / mode / frames /
transparency / EXIF orientation, the perceptual fingerprint and (optionally) the thumbnail.
JPEGs are decoded with libjpeg's DCT scaling (``draft``) straight to thumbnail size: every
coefficient is still read, so truncation is still caught, at a fraction of the cost.

Nothing here raises for a bad file: a broken image becomes facts with a problem code.
"""

from __future__ import annotations

import hashlib
import io
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tui_lora.core.dataset import fingerprint as fp_mod
from tui_lora.core.fsutil import atomic_write_bytes

# Pillow's own default limit (~89.5 megapixels); beyond it a file is refused, not decoded.
MAX_PIXELS = 89_478_485
MAX_FILE_BYTES = 512 * 2**20
THUMB_SIZE = 256
# Images above this many pixels decode at most two at a time, so a folder of huge PNGs on a
# 32-core box cannot take all the memory at once.
_BIG_PIXELS = 24_000_000
_big_gate = threading.BoundedSemaphore(2)
VERSION = 1  # bump when the facts below change meaning: cached facts are then recomputed


_setup_lock = threading.Lock()
_setup_done = False


def _pil():
    global _setup_done
    from PIL import Image

    if not _setup_done:
        with _setup_lock:  # the warnings filter list is process-global: change it once
            if not _setup_done:
                # We check the pixel count ourselves (below) and report it; Pillow's warning
                # would only print a stray line on stderr in the middle of the CLI's output.
                warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
                _setup_done = True
    return Image


@dataclass
class ProbeResult:
    sha256: str
    facts: dict[str, Any] | None  # None: not decoded, the hash is already known (see probe_file)
    fingerprint: bytes | None


def _facts(status: str = "ok", detail: str = "", **kw: Any) -> dict[str, Any]:
    base = {"status": status, "detail": detail, "format": None, "width": 0, "height": 0, "mode": "",
            "frames": 1, "transparent": False, "orientation": 1}
    base.update(kw)
    return base


def _sniff(data: bytes) -> str:
    if data[4:12] in (b"ftypavif", b"ftypavis"):
        return ("it is AVIF, which this Pillow cannot read; install a Pillow built with AVIF "
                "(pip install -U pillow) or convert it to PNG")
    head = data[:512].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")) or b"<html" in head:
        return "it is an HTML page, probably an error page saved by a downloader"
    if head.startswith((b"{", b"[")):
        return "it is JSON text, probably an API error saved by a downloader"
    try:
        data[:512].decode("utf-8")
        return "it is a text file"
    except UnicodeDecodeError:
        return "its contents are not a format Pillow can read"


def probe_bytes(data: bytes, sha: str, *, thumb_path: Path | None = None,
                thumb_size: int = THUMB_SIZE) -> ProbeResult:
    """Decode ``data`` (an image file's bytes) into facts, fingerprint and thumbnail."""
    Image = _pil()
    from PIL import UnidentifiedImageError

    if not data:
        return ProbeResult(sha, _facts("empty"), None)
    try:
        im = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        return ProbeResult(sha, _facts("not_image", _sniff(data)), None)
    except Image.DecompressionBombError as exc:
        return ProbeResult(sha, _facts("too_large", _bomb_detail(str(exc))), None)
    except Exception as exc:  # noqa: BLE001 - any parser failure means a broken header
        return ProbeResult(sha, _facts("corrupt", _reason(exc)), None)

    w, h = im.size
    fmt = im.format
    if w * h > MAX_PIXELS:
        return ProbeResult(sha, _facts("too_large", f"{w}×{h} is {w * h / 1e6:.0f} megapixels, over the "
                                       f"{MAX_PIXELS / 1e6:.0f}-megapixel safety limit", format=fmt,
                                       width=w, height=h, mode=im.mode), None)
    if w == 0 or h == 0:
        return ProbeResult(sha, _facts("corrupt", f"it claims to be {w}×{h} pixels", format=fmt), None)
    gate = _big_gate if w * h > _BIG_PIXELS else None
    if gate:
        gate.acquire()
    try:
        return _decode(im, sha, fmt, thumb_path, thumb_size, Image)
    except Exception as exc:  # noqa: BLE001 - truncated data, bad CRCs, broken EXIF: all "corrupt"
        return ProbeResult(sha, _facts("corrupt", _reason(exc), format=fmt, width=w, height=h, mode=im.mode), None)
    finally:
        if gate:
            gate.release()


def _decode(im, sha: str, fmt: str | None, thumb_path: Path | None, thumb_size: int, Image) -> ProbeResult:
    w, h = im.size
    mode = im.mode
    # An MPO (camera JPEG) carries a preview as a second "frame": it is not an animation.
    frames = 1 if fmt == "MPO" else int(getattr(im, "n_frames", 1) or 1)
    try:
        orientation = int(im.getexif().get(0x0112, 1) or 1)
    except Exception:  # noqa: BLE001 - a broken EXIF block is not worth failing the image over
        orientation = 1
    if orientation not in range(1, 9):
        orientation = 1
    if fmt in ("JPEG", "MPO"):
        # Decode at 1/2, 1/4 or 1/8 scale: just enough for the thumbnail (when one is wanted)
        # and the fingerprint's working image; libjpeg still reads every coefficient.
        k = (max(thumb_size, fp_mod.WORK) if thumb_path is not None else fp_mod.WORK) / max(w, h)
        if k < 1:
            im.draft(im.mode, (max(1, int(w * k)), max(1, int(h * k))))
    im.load()  # decodes every byte: truncation and corrupt data raise here

    transparent = False
    if im.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (im.mode == "P" and "transparency" in im.info) \
            or (im.mode in ("RGB", "L", "I", "I;16") and "transparency" in im.info):
        rgba = im.convert("RGBA")
        transparent = rgba.getchannel("A").getextrema()[0] < 255
        display = Image.new("RGB", rgba.size, (255, 255, 255))
        display.paste(rgba, mask=rgba.getchannel("A"))
    elif im.mode in ("RGB", "L"):
        display = im
    else:
        display = im.convert("RGB")
    if orientation != 1:
        display = oriented(display, orientation)  # hash and thumbnail what a viewer shows
    if orientation in (5, 6, 7, 8):
        w, h = h, w

    fp = fp_mod.fingerprint(display)
    if thumb_path is not None and not thumb_path.exists():
        write_thumbnail(display, thumb_path, thumb_size)
    facts = _facts(format=fmt, width=w, height=h, mode=mode, frames=frames,
                   transparent=transparent, orientation=orientation)
    return ProbeResult(sha, facts, fp)


def oriented(img, orientation: int):
    """Apply an EXIF orientation value (2–8) to pixels; ``ImageOps.exif_transpose`` needs the EXIF."""
    from PIL import Image

    T = Image.Transpose
    ops = {2: [T.FLIP_LEFT_RIGHT], 3: [T.ROTATE_180], 4: [T.FLIP_TOP_BOTTOM], 5: [T.TRANSPOSE],
           6: [T.ROTATE_270], 7: [T.TRANSVERSE], 8: [T.ROTATE_90]}.get(orientation, [])
    for op in ops:
        img = img.transpose(op)
    return img


def write_thumbnail(display, path: Path, size: int = THUMB_SIZE) -> None:
    from PIL import Image

    thumb = display.copy() if display.mode == "RGB" else display.convert("RGB")
    thumb.thumbnail((size, size), Image.Resampling.LANCZOS, reducing_gap=2.0)
    buf = io.BytesIO()
    thumb.save(buf, "JPEG", quality=85)
    atomic_write_bytes(path, buf.getvalue())


def probe_file(path: Path, *, thumb_dir: Path | None = None, thumb_size: int = THUMB_SIZE,
               known: frozenset[str] | set[str] = frozenset()) -> ProbeResult:
    """Read, hash and decode one file; ``thumb_dir`` also writes its thumbnail there.

    When the content hash is in ``known`` (already decoded under another name or an older
    mtime) the decode is skipped: the result then has ``facts`` None.
    """
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        return ProbeResult(h.hexdigest(), _facts("too_large", f"the file is {size / 2**20:.0f} MiB"), None)
    data = path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    thumb = thumb_file(thumb_dir, sha, thumb_size) if thumb_dir is not None else None
    if sha in known and (thumb is None or thumb.exists()):
        return ProbeResult(sha, None, None)
    return probe_bytes(data, sha, thumb_path=thumb, thumb_size=thumb_size)


def thumb_file(thumb_dir: Path, sha: str, size: int = THUMB_SIZE) -> Path:
    return thumb_dir / sha[:2] / f"{sha}-{size}.jpg"


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text[0].lower() + text[1:] if text else text


def _bomb_detail(text: str) -> str:
    # "Image size (400000000 pixels) exceeds limit of 178956970 pixels, ..."
    import re

    m = re.search(r"\((\d+) pixels\)", text)
    mp = f"{int(m.group(1)) / 1e6:.0f} megapixels" if m else "too many pixels"
    return f"it claims {mp}, over the {MAX_PIXELS / 1e6:.0f}-megapixel safety limit"
