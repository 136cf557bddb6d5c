"""BLIP captions through transformers: one natural-language sentence per image.

Booru tags describe anime pictures well but photos poorly; realistic-person and photo-style
datasets are usually captioned in sentences ("a woman in a red coat standing on a street").
This backend has the same ``prepare``/``infer`` interface as the WD14 tagger, so tagging,
modes, trigger words, snapshots and undo work the same. The caption is written as one "tag";
commas inside the sentence split it into several when the pruning tools read it back, which
is also how kohya's caption shuffling sees it.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Any

from tui_lora.core.errors import ChangeInput, Fix, UserError

DEFAULT_BLIP_MODEL = "Salesforce/blip-image-captioning-large"
# BLIP-large's well-known artefacts ("arafed woman …") carry no meaning.
_JUNK_WORDS = re.compile(r"\b(?:arafed|araffe|arafly|arafe)\b\s*", re.I)


@contextlib.contextmanager
def _quiet_transformers():
    from transformers.utils import logging as hf_logging

    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def clean_sentence(text: str) -> str:
    text = _JUNK_WORDS.sub("", text)
    return " ".join(text.split()).strip(" ,.")


class BlipCaptioner:
    name = "blip"

    def __init__(self, model: str = "", *, device: str = "auto", max_new_tokens: int = 40, num_beams: int = 3) -> None:
        import torch
        from transformers import BlipForConditionalGeneration, BlipProcessor

        from tui_lora.core.hub import is_repo_id, local_only, not_cached, quiet_hub

        self.model = model or DEFAULT_BLIP_MODEL
        path = Path(self.model).expanduser()
        local = not is_repo_id(self.model)
        if local and not path.is_dir():
            raise UserError(f"The BLIP model {self.model} is not a folder",
                            Fix(f"{{}} to a folder saved with save_pretrained or to a Hugging Face repo id such as "
                                f"{DEFAULT_BLIP_MODEL}", ChangeInput("tagger.model", verb="set")))
        ref = str(path) if local else self.model
        want_cuda = device in ("auto", "cuda") and torch.cuda.is_available()
        if device == "cuda" and not want_cuda:
            raise UserError("torch sees no CUDA GPU, so BLIP cannot run on it",
                            Fix("{}", ChangeInput("device", "cpu", verb="caption with")))
        self.device = "cuda" if want_cuda else "cpu"
        self.dtype = torch.float16 if want_cuda else torch.float32
        # Without a network, straight to the cache: transformers would retry every file of the repo
        # with back-off (minutes) before failing.
        offline = not local and local_only()
        try:
            with _quiet_transformers(), quiet_hub():
                self.processor = BlipProcessor.from_pretrained(ref, local_files_only=offline)
                net = BlipForConditionalGeneration.from_pretrained(ref, local_files_only=offline)
        except (OSError, ValueError) as exc:
            if offline:  # transformers wraps the hub's errors in its own OSError; offline, this is the cause
                raise not_cached(self.model, local_fix=Fix("{} to a local folder saved with save_pretrained",
                                                           ChangeInput("tagger.model", verb="set"))) from None
            first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
            where = "the folder" if local else "the Hugging Face hub (or its cache)"
            raise UserError(f"Cannot load the BLIP model {self.model} from {where} ({first})",
                            Fix("check the name, the connection, or {} to a local folder",
                                ChangeInput("tagger.model", verb="set"))) from None
        self.net = net.to(self.device, self.dtype).eval()
        self.max_new_tokens, self.num_beams = max_new_tokens, num_beams

    def prepare(self, path: Path) -> Any:
        """Load one image (transparency on white, like WD14) and run BLIP's resize/normalise."""
        from PIL import Image

        from tui_lora.core.tagging.wd14 import flatten_on_white

        with Image.open(path) as im:
            im.load()
            rgb = flatten_on_white(im)
        return self.processor.image_processor(images=rgb, return_tensors="np")["pixel_values"][0]

    def infer(self, batch: list[Any]) -> list[list[str]]:
        import numpy as np
        import torch

        pixels = torch.from_numpy(np.stack(batch)).to(self.device, self.dtype)
        with torch.inference_mode():
            ids = self.net.generate(pixel_values=pixels, max_new_tokens=self.max_new_tokens,
                                    num_beams=self.num_beams)
        texts = self.processor.batch_decode(ids, skip_special_tokens=True)
        return [[s] if (s := clean_sentence(t)) else [] for t in texts]
