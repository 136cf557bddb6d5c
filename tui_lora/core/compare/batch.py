"""Render several pictures in one pipeline call: the prompts × seeds of one LoRA file at one weight.

Each picture keeps its own CPU generator (``generator=[…]``: its starting noise, and an ancestral
sampler's noise at every step, come from its own seed) and its prompts are encoded at the token
length it would have alone, so a batched picture equals the one-at-a-time picture within floating
point (the UNet sees a larger batch, nothing else changes). Pictures batch together only when they
share what a pipeline call fixes: size, steps, CFG, sampler and the prompt's 75-token chunk count
(:func:`batch_key`); :func:`plan_batches` groups them and caps a batch by picture area.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tui_lora.core.sample_prompts import SamplePrompt

if TYPE_CHECKING:
    from diffusers import DiffusionPipeline
    from PIL import Image
    from transformers import CLIPTokenizer

# A batch holds at most this many 512×512-pixel pictures (fewer when they are larger): 8 at SD1.5's size,
# 2 at SDXL's 1024×1024, what a 24 GB GPU renders at once with room to spare.
PIXEL_BUDGET = 8 * 512 * 512
MAX_BATCH = 16
# Samplers whose noise does not follow a list of generators picture by picture: one picture per call.
UNBATCHED_SAMPLERS: frozenset[str] = frozenset()


def default_max_batch(width: int, height: int) -> int:
    return max(1, min(MAX_BATCH, PIXEL_BUDGET // max(1, width * height)))


def batch_key(sp: SamplePrompt, chunks: int) -> tuple:
    return (sp.width, sp.height, sp.steps, sp.cfg, sp.sampler, chunks)


def plan_batches(prompts: Sequence[SamplePrompt], chunks: Sequence[int], max_batch: int | None = None
                 ) -> list[list[int]]:
    """Indices of ``prompts`` (resolved) grouped into pipeline calls, in first-seen order."""
    groups: dict[tuple, list[int]] = {}
    for i, (sp, n) in enumerate(zip(prompts, chunks)):
        groups.setdefault(batch_key(sp, n), []).append(i)
    out = []
    for members in groups.values():
        sp = prompts[members[0]]
        size = max_batch or default_max_batch(sp.width or 512, sp.height or 512)
        if sp.sampler in UNBATCHED_SAMPLERS:
            size = 1
        out += [members[k:k + size] for k in range(0, len(members), size)]
    return out


def prompt_chunks(tokenizer: CLIPTokenizer, sp: SamplePrompt) -> int:
    """The 75-token chunks ``sp`` is encoded with when rendered alone (its prompt and negative)."""
    from tui_lora.core.train.pipeline import token_chunks

    return token_chunks(tokenizer, [sp.prompt, sp.negative])


def render_batch(pipe: DiffusionPipeline, family: str, sps: Sequence[SamplePrompt], *,
                 tokenizers: list[CLIPTokenizer], text_encoders: list, clip_skip: int,
                 scheduler_config: dict[str, Any] | None, v_prediction: bool, chunks: int,
                 zero_terminal_snr: bool = False, guidance_rescale: float = 0.0,
                 autocast: contextlib.AbstractContextManager | None = None,
                 cancel: threading.Event | None = None) -> list[Image.Image] | None:
    """One picture (PIL) per resolved prompt of ``sps``, which share a :func:`batch_key`; None when
    ``cancel`` was set midway. The schedule and CFG rescale as :func:`train.pipeline.render`'s."""
    import torch

    from tui_lora.core.train.pipeline import decode, denoise, make_scheduler
    from tui_lora.core.train.text import TextEncoding

    first = sps[0]
    pipe.scheduler = make_scheduler(first.sampler, scheduler_config, v_prediction=v_prediction,
                                    zero_terminal_snr=zero_terminal_snr)
    with torch.no_grad(), (autocast or contextlib.nullcontext()):
        text = TextEncoding(family, tokenizers, text_encoders, clip_skip=clip_skip if family == "sd15" else 1,
                            max_token_length=75 * chunks)
        pos = text.encode([sp.prompt for sp in sps])
        neg = text.encode([sp.negative for sp in sps])
        latents = denoise(pipe, family, pos, neg, first, [torch.Generator("cpu").manual_seed(sp.seed) for sp in sps],
                          guidance_rescale=guidance_rescale, cancel=cancel)
    if cancel is not None and cancel.is_set():
        return None
    # One picture at a time through the VAE: its memory stays that of one picture, whatever the batch.
    return [decode(pipe, latents[k:k + 1]) for k in range(len(sps))]
