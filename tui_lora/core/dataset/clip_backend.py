"""Optional duplicate finding by CLIP image embeddings (``dedupe --backend clip``).

Embeddings also catch re-drawn or re-posed near-copies that hashes miss, but they need a
model, and the hashes need nothing. This backend only ever loads a model that is already on
disk (a folder, or the Hugging Face cache): it never downloads, and says plainly when none is
there. torch and transformers are imported only when it runs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from tui_lora.core.dataset.records import FileRecord
from tui_lora.core.errors import ChangeInput, Fix, ModelNotCached, UserError

DEFAULT_MODEL = "openai/clip-vit-base-patch32"
Progress = Callable[[int, int], None]
Pairs = dict[tuple[int, int], float]


class ClipBackend:
    name = "clip"
    default_threshold = 5.0  # 100 × (1 − cosine similarity): 5 means similarity ≥ 0.95
    unit = "100 × (1 − cosine similarity)"

    def __init__(self, model: str | None = None, batch_size: int = 32) -> None:
        self.model_ref = model or DEFAULT_MODEL
        self.batch_size = batch_size

    def _local_path(self) -> Path | None:
        p = Path(self.model_ref).expanduser()
        if p.is_dir():
            return p if (p / "config.json").is_file() else None
        try:
            from huggingface_hub import snapshot_download

            return Path(snapshot_download(self.model_ref, local_files_only=True))
        except Exception:  # noqa: BLE001 - not in the cache (or not a repo id at all)
            return None

    def unavailable(self) -> UserError | None:
        # The model first: it is the usual answer, and torch takes seconds to import.
        if self._local_path() is None:
            return ModelNotCached(f"No CLIP model is available offline (looked for {self.model_ref})",
                                  Fix(f"download it once with `huggingface-cli download {DEFAULT_MODEL}` or {{}} "
                                      "(the default)", ChangeInput("dedupe.backend", "hash", verb="use")))
        try:
            import torch  # noqa: F401 - only asks whether the CLIP backend can run
            import transformers  # noqa: F401 - same
        except ImportError:
            return UserError("The CLIP backend needs torch and transformers, which are not installed",
                             Fix("{} (the default)", ChangeInput("dedupe.backend", "hash", verb="use")))
        return None

    def close_pairs(self, records: Sequence[FileRecord], threshold: float, *,
                    progress: Progress | None = None, cancel: threading.Event | None = None) -> Pairs:
        import numpy as np

        emb = self.embed([r.path for r in records], progress=progress, cancel=cancel)
        if emb is None or len(records) < 2:
            return {}
        dist = 100.0 * (1.0 - emb @ emb.T)
        i_idx, j_idx = np.nonzero(np.triu(dist <= threshold, k=1))
        return {(int(i), int(j)): round(float(dist[i, j]), 3) for i, j in zip(i_idx, j_idx)}

    def embed(self, paths: Sequence[Path], *, progress: Progress | None = None,
              cancel: threading.Event | None = None):
        """L2-normalised image embeddings, (n, dim) float32; None when cancelled."""
        import numpy as np
        import torch
        import transformers
        from PIL import Image
        from transformers import CLIPModel

        # Without torchvision, transformers 5 wants the PIL processor by name (else it warns).
        processor_cls = getattr(transformers, "CLIPImageProcessorPil", None) or transformers.CLIPImageProcessor
        transformers.utils.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()
        path = self._local_path()
        if path is None:
            raise self.unavailable() or RuntimeError("CLIP model not found")
        model = CLIPModel.from_pretrained(path, local_files_only=True).eval()
        processor = processor_cls.from_pretrained(path, local_files_only=True)
        out = []
        for start in range(0, len(paths), self.batch_size):
            if cancel is not None and cancel.is_set():
                return None
            batch = []
            for p in paths[start:start + self.batch_size]:
                with Image.open(p) as im:
                    im.draft("RGB", (448, 448))  # JPEGs decode at a fraction of their size
                    batch.append(im.convert("RGB"))
            with torch.no_grad():
                pixels = processor(images=batch, return_tensors="pt")["pixel_values"]
                feats = model.get_image_features(pixel_values=pixels)
                if not isinstance(feats, torch.Tensor):  # some versions return a model output
                    feats = feats.pooler_output if hasattr(feats, "pooler_output") else feats[0]
                feats = torch.nn.functional.normalize(feats.float(), dim=-1)
            out.append(feats.numpy())
            if progress:
                progress(min(len(paths), start + self.batch_size), len(paths))
        return np.concatenate(out).astype(np.float32) if out else np.zeros((0, 1), np.float32)
