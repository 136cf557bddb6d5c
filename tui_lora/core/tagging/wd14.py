"""The WD14 ONNX tagger: booru tags for one batch of images at a time.

WD14 follows SmilingWolf's reference app exactly: RGBA composited on white → RGB → pad to a
centred square with white → bicubic resize to the model's own input size (read from the
model) → BGR, float32 0-255, NHWC. Categories come from ``selected_tags.csv``: rating (9) is
never written; general (0) and meta (5) use ``threshold``; character (4), and the copyright (3)
and artist (1) names some CSVs carry, use ``character_threshold``, because a wrong name teaches
the wrong identity. Names come first, then general tags, each by confidence; underscores become
spaces except in kaomoji.
"""

from __future__ import annotations

import contextlib
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tui_lora.core.dataset.captions import normalize_tag
from tui_lora.core.errors import ChangeInput, Fix, UserError
from tui_lora.core.hub import is_repo_id

DEFAULT_WD14_MODEL = "SmilingWolf/wd-eva02-large-tagger-v3"
WD14_FILES = ("model.onnx", "selected_tags.csv")
RATING, GENERAL, ARTIST, COPYRIGHT, CHARACTER, META = 9, 0, 1, 3, 4, 5
NAME_CATEGORIES = (CHARACTER, COPYRIGHT, ARTIST)

# ----- the WD14 model ---------------------------------------------------------------------------
@dataclass(frozen=True)
class TagList:
    names: list[str]  # as written into captions
    categories: list[int]


_REDOWNLOAD = Fix("re-download the tagger model")


def read_tag_csv(path: Path) -> TagList:
    """Parse WD14's ``selected_tags.csv`` (``tag_id,name,category,count``)."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise UserError(f"Cannot read {path} ({exc})", _REDOWNLOAD) from None
    if not rows or "name" not in rows[0] or "category" not in rows[0]:
        raise UserError(f"{path} is not a WD14 tag list (it needs the columns tag_id,name,category,count)",
                        _REDOWNLOAD)
    names, cats = [], []
    for i, row in enumerate(rows, start=2):
        try:
            cats.append(int(row["category"]))
        except (TypeError, ValueError):
            raise UserError(f"{path} line {i} has the category {row.get('category')!r}, not a number",
                            _REDOWNLOAD) from None
        names.append(normalize_tag(row["name"] or ""))
    return TagList(names, cats)


def resolve_wd14(ref: str) -> tuple[Path, Path]:
    """``ref`` (a local folder, a model.onnx path, or a Hugging Face repo id) → (model, csv)."""
    ref = (ref or DEFAULT_WD14_MODEL).strip()
    path = Path(ref).expanduser()
    if path.is_file() and path.suffix == ".onnx":
        path = path.parent if (path.parent / WD14_FILES[1]).is_file() else path
    if path.is_dir():
        missing = [f for f in WD14_FILES if not (path / f).is_file()]
        if missing:
            raise UserError(f"The tagger folder {path} has no {' or '.join(missing)}",
                            Fix("a WD14 model folder holds model.onnx and selected_tags.csv (as in the "
                                "SmilingWolf/wd-* repos)"))
        return path / WD14_FILES[0], path / WD14_FILES[1]
    if not is_repo_id(ref):
        what = "is not a folder" if path.exists() else "does not exist"
        raise UserError(f"The tagger model {ref} {what}",
                        Fix(f"{{}} to a folder holding model.onnx and selected_tags.csv, or to a Hugging Face repo id "
                            f"such as {DEFAULT_WD14_MODEL}", ChangeInput("tagger.model", verb="set")))
    return _download(ref, WD14_FILES[0]), _download(ref, WD14_FILES[1])


def _download(repo: str, filename: str) -> Path:
    """One file of a hub repo, from the local cache when it is there (huggingface_hub caches)."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError

    from tui_lora.core.hub import download_failure, local_only, quiet_hub

    try:
        with quiet_hub():
            return Path(hf_hub_download(repo, filename, local_files_only=local_only()))
    except Exception as exc:
        # LocalEntryNotFoundError (offline, not cached) subclasses EntryNotFoundError: it is not this case.
        if isinstance(exc, EntryNotFoundError) and not isinstance(exc, LocalEntryNotFoundError):
            raise UserError(f"The repo {repo} has no {filename}, so it is not a WD14 ONNX tagger",
                            Fix("use a SmilingWolf/wd-* repo or a folder with model.onnx and selected_tags.csv")) \
                from None
        failure = download_failure(exc, repo, example=DEFAULT_WD14_MODEL,
                                   local_fix=Fix("{} to a local folder holding model.onnx and selected_tags.csv",
                                                 ChangeInput("tagger.model", verb="set")))
        if failure is None:
            raise
        raise failure from None


@contextlib.contextmanager
def _quiet_onnxruntime(ort) -> Iterator[None]:
    """onnxruntime-gpu logs a red error and prints advice to stdout when CUDA libraries are
    missing; we detect that ourselves, so keep the terminal (and --json output) clean."""
    ort.set_default_logger_severity(4)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        ort.set_default_logger_severity(3)


def create_session(model_path: Path, device: str = "auto"):
    """An InferenceSession on CUDA when its provider really loads (checked on the session: the
    GPU build lists CUDA as available even without a GPU or CUDA libraries), else on the CPU."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    if device in ("auto", "cuda") and "CUDAExecutionProvider" in ort.get_available_providers():
        with _quiet_onnxruntime(ort):
            if hasattr(ort, "preload_dlls"):  # CUDA/cuDNN from pip's nvidia-* wheels (torch's)
                with contextlib.suppress(Exception):
                    ort.preload_dlls()
            try:
                session = ort.InferenceSession(str(model_path), options,
                                               providers=["CUDAExecutionProvider", "CPUExecutionProvider"])
            except Exception:  # noqa: BLE001 - retried on the CPU below, which reports model errors
                session = None
        if session is not None and session.get_providers()[0] == "CUDAExecutionProvider":
            return session, "cuda"
    if device == "cuda":
        raise UserError("onnxruntime could not use the GPU (its CUDA provider did not load: no GPU, or CUDA/"
                        "cuDNN versions that do not match onnxruntime-gpu)",
                        Fix("fix that or {}", ChangeInput("device", "cpu", verb="tag with")))
    try:
        with _quiet_onnxruntime(ort):
            session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own untyped errors
        detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise UserError(f"{model_path} is not a usable ONNX model ({detail})",
                        Fix("delete it and download the tagger again")) from None
    return session, "cpu"


def has_alpha(im) -> bool:
    """Alpha channel, tRNS chunk, or an RGBA palette (Pillow's own test when it has one)."""
    known = getattr(im, "has_transparency_data", None)
    if known is not None:
        return bool(known)
    return im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (im.mode == "P" and "transparency" in im.info)


def flatten_on_white(im):
    """RGB with any transparency composited on white, as WD14's reference app does. Opaque
    images skip the RGBA round trip, which gives the same pixels in a third of the time."""
    from PIL import Image

    if not has_alpha(im):
        return im.convert("RGB") if im.mode != "RGB" else im
    rgba = im.convert("RGBA")
    canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    canvas.alpha_composite(rgba)
    return canvas.convert("RGB")


class WD14Tagger:
    """A WD14 tagger: load once, then :meth:`prepare` images (any thread) and :meth:`infer` batches."""

    name = "wd14"

    def __init__(self, model: str = "", *, threshold: float = 0.35, character_threshold: float = 0.85,
                 device: str = "auto") -> None:
        import numpy as np

        for label, value in (("threshold", threshold), ("character threshold", character_threshold)):
            if not 0.0 <= value <= 1.0:
                raise UserError(f"The {label} {value} is outside 0-1",
                                Fix("use e.g. 0.35 for general tags and 0.85 for characters"))
        self.model = model or DEFAULT_WD14_MODEL
        self.threshold, self.character_threshold = threshold, character_threshold
        model_path, csv_path = resolve_wd14(self.model)
        self.tags = read_tag_csv(csv_path)
        self.session, self.device = create_session(model_path, device)
        inp = self.session.get_inputs()[0]
        shape = list(inp.shape)
        if len(shape) != 4 or shape[3] != 3 or not isinstance(shape[1], int) or shape[1] != shape[2]:
            raise UserError(f"{model_path} does not look like a WD14 tagger: its input is {shape}, not "
                            "[batch, size, size, 3]", Fix("use a SmilingWolf/wd-* model"))
        self.size: int = shape[1]
        self.input_name = inp.name
        self.dtype = np.float16 if "float16" in inp.type else np.float32
        out = self.session.get_outputs()[0]
        self.output_name = out.name
        n_out = out.shape[-1] if out.shape else None
        if isinstance(n_out, int):
            self._check_count(n_out, csv_path)
        self._csv_path = csv_path
        cats = np.asarray(self.tags.categories)
        # Everything that is neither a rating nor a name (general, meta, unknown) is "general".
        self._general = np.flatnonzero(~np.isin(cats, (RATING, *NAME_CATEGORIES)))
        self._names = np.flatnonzero(np.isin(cats, NAME_CATEGORIES))

    def _check_count(self, n_out: int, csv_path: Path) -> None:
        if n_out != len(self.tags.names):
            raise UserError(f"The model outputs {n_out} tags but {csv_path} lists {len(self.tags.names)}, so the two "
                            "files come from different models", Fix("download both from the same repo"))

    def prepare(self, path: Path):
        """Load one image and preprocess it exactly as WD14 expects (see the module docstring)."""
        import numpy as np
        from PIL import Image

        with Image.open(path) as im:
            im.load()
            rgb = flatten_on_white(im)
        side = max(rgb.size)
        square = Image.new("RGB", (side, side), (255, 255, 255))
        square.paste(rgb, ((side - rgb.width) // 2, (side - rgb.height) // 2))
        if side != self.size:
            square = square.resize((self.size, self.size), Image.BICUBIC)
        arr = np.asarray(square, dtype=np.float32)[:, :, ::-1]  # RGB → BGR
        return np.ascontiguousarray(arr, dtype=self.dtype)

    def infer(self, batch: list[Any]) -> list[list[str]]:
        import numpy as np

        probs = self.session.run([self.output_name], {self.input_name: np.stack(batch)})[0]
        if probs.shape[-1] != len(self.tags.names):
            self._check_count(int(probs.shape[-1]), self._csv_path)
        return [self.pick(row) for row in probs]

    def pick(self, row) -> list[str]:
        """Tags of one probability row: names above character_threshold, then general tags
        above threshold, each group by confidence."""
        import numpy as np

        out = []
        for idx, thr in ((self._names, self.character_threshold), (self._general, self.threshold)):
            p = row[idx]
            hit = idx[p > thr]
            order = np.argsort(-row[hit], kind="stable")
            out += [self.tags.names[i] for i in hit[order]]
        return out

