"""Tokenize and encode captions as kohya does: clip_skip, 75/150/225 tokens in 75-token chunks,
SDXL's two encoders (penultimate layers concatenated, pooled output of the second)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch
    from transformers import CLIPTokenizer


@dataclass
class Encoded:
    hidden: torch.Tensor  # (B, tokens, dim)
    pooled: torch.Tensor | None = None  # (B, dim) for SDXL


def tokenize(tokenizer: CLIPTokenizer, captions: list[str], max_token_length: int) -> torch.Tensor:
    """(B, chunks, 77) token ids; ``max_token_length`` 75 gives one chunk, 150 two, 225 three."""
    import torch

    model_max = tokenizer.model_max_length  # 77
    length = max_token_length + 2
    ids = tokenizer(captions, padding="max_length", truncation=True, max_length=length, return_tensors="pt").input_ids
    if length <= model_max:
        return ids.unsqueeze(1)
    pad_is_eos = tokenizer.pad_token_id == tokenizer.eos_token_id
    chunks = []
    for i in range(1, length - model_max + 2, model_max - 2):
        chunk = torch.cat([ids[:, :1], ids[:, i:i + model_max - 2], ids[:, -1:]], dim=1)
        if not pad_is_eos:
            # "<BOS> text x <PAD>" must end in <EOS>; an empty chunk "<BOS> <PAD> ..." starts with <EOS>.
            ends_in_text = (chunk[:, -2] != tokenizer.eos_token_id) & (chunk[:, -2] != tokenizer.pad_token_id)
            chunk[ends_in_text, -1] = tokenizer.eos_token_id
            starts_empty = chunk[:, 1] == tokenizer.pad_token_id
            chunk[starts_empty, 1] = tokenizer.eos_token_id
        chunks.append(chunk)
    return torch.stack(chunks, dim=1)


def _inner(module):
    """The model inside a distributed (DDP) wrapper, for attribute access."""
    return getattr(module, "module", module)


def _merge_chunks(hidden, batch: int, chunks: int):
    """(B*n, 77, D) → (B, 2 + 75n, D): one <BOS>, the 75 inner tokens of every chunk, the last <EOS>."""
    import torch

    hidden = hidden.reshape(batch, chunks * hidden.shape[1], hidden.shape[-1])
    if chunks == 1:
        return hidden
    step = hidden.shape[1] // chunks
    parts = [hidden[:, :1]]
    for i in range(1, chunks * step, step):
        parts.append(hidden[:, i:i + step - 2])
    parts.append(hidden[:, -1:])
    return torch.cat(parts, dim=1)


def encode_sd15(text_encoder: torch.nn.Module, ids: torch.Tensor, clip_skip: int) -> Encoded:
    b, n, t = ids.shape
    flat = ids.reshape(b * n, t).to(_inner(text_encoder).device)
    if clip_skip <= 1:
        hidden = text_encoder(flat, return_dict=True).last_hidden_state
    else:
        out = text_encoder(flat, output_hidden_states=True, return_dict=True)
        norm = getattr(_inner(text_encoder), "text_model", _inner(text_encoder)).final_layer_norm
        # CPU autocast leaves layer_norm alone, and a float32 input with bf16/fp16 weights fails there
        # ("mixed dtype"); on CUDA autocast runs it in float32 either way.
        hidden = norm(out.hidden_states[-clip_skip].to(norm.weight.dtype))
    return Encoded(_merge_chunks(hidden, b, n))


def encode_sdxl(text_encoders: list[torch.nn.Module], ids_pair: list[torch.Tensor]) -> Encoded:
    import torch

    te1, te2 = text_encoders
    ids1, ids2 = ids_pair
    b, n, t = ids1.shape
    out1 = te1(ids1.reshape(b * n, t).to(_inner(te1).device), output_hidden_states=True, return_dict=True)
    out2 = te2(ids2.reshape(b * n, t).to(_inner(te2).device), output_hidden_states=True, return_dict=True)
    h1 = _merge_chunks(out1.hidden_states[-2], b, n)
    h2 = _merge_chunks(out2.hidden_states[-2], b, n)
    pooled = out2.text_embeds.reshape(b, n, -1)[:, 0]  # the first chunk's pooled output, as kohya
    return Encoded(torch.cat([h1, h2.to(h1.dtype)], dim=-1), pooled)


class TextEncoding:
    """Captions → UNet conditioning for one family."""

    def __init__(self, family: str, tokenizers: list[CLIPTokenizer], text_encoders: list[torch.nn.Module], *,
                 clip_skip: int = 1,
                 max_token_length: int = 75) -> None:
        self.family = family
        self.tokenizers = tokenizers
        self.text_encoders = text_encoders
        self.clip_skip = clip_skip
        self.max_token_length = max_token_length

    def tokenize(self, captions: list[str]) -> list[torch.Tensor]:
        return [tokenize(tok, captions, self.max_token_length) for tok in self.tokenizers]

    def encode_ids(self, ids: list[torch.Tensor]) -> Encoded:
        if self.family == "sdxl":
            return encode_sdxl(self.text_encoders, ids)
        return encode_sd15(self.text_encoders[0], ids[0], self.clip_skip)

    def encode(self, captions: list[str]) -> Encoded:
        return self.encode_ids(self.tokenize(captions))
