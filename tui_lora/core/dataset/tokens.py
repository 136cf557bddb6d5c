"""How many CLIP tokens a caption costs, to warn before training truncates it.

kohya (and our trainer) encode at most ``training.max_token_length`` tokens (75, 150 or 225,
not counting the start/end tokens); the rest of a longer caption is silently cut off, so the
tags at its end never train. Counting uses the base model's own CLIP tokenizer when it is on
this machine (a diffusers folder, or a repo already in the Hugging Face cache). Otherwise it
falls back to an approximation, marked ``exact=False``: CLIP's pre-tokenizer split (letter
runs, single digits, punctuation runs), one token per word of up to 7 letters and one per
started 6 letters of longer ones. Common tag words are single CLIP tokens and rare long words
split into several, so the estimate errs on the high side, which is the safe side for a warning.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tui_lora.core.dataset.captions import format_tags
from tui_lora.core.humanize import count

# CLIP's pattern without \p classes: letters, one digit, runs of other symbols (underscore included).
_PRETOKEN = re.compile(r"[^\W\d_]+|\d|(?:[^\s\w]|_)+", re.UNICODE)
CLIP_TOKENIZER_REPO = "openai/clip-vit-large-patch14"  # what kohya uses for single-file checkpoints


def approximate_tokens(text: str) -> int:
    total = 0
    for piece in _PRETOKEN.findall(text.lower()):
        if piece[0].isalpha():
            total += 1 if len(piece) <= 7 else math.ceil(len(piece) / 6)
        else:
            total += 1
    return total


@dataclass
class TokenReport:
    limit: int
    exact: bool
    method: str  # "tokenizer <where>" or "approximation"
    longest: int = 0
    longest_path: Path | None = None
    over: list[tuple[Path, int]] = field(default_factory=list)  # captions longer than the limit

    @property
    def warning(self) -> str | None:
        if not self.over:
            return None
        approx = "" if self.exact else " (estimated)"
        return (f"{count(len(self.over), 'caption')} {'exceeds' if len(self.over) == 1 else 'exceed'} training.max_token_length = {self.limit}; the longest is "
                f"{self.longest} tokens{approx} ({self.longest_path.name if self.longest_path else '?'}), and "
                "tags past the limit never train: prune tags or raise max_token_length to 150 or 225.")

    def to_dict(self, root: Path | None = None) -> dict[str, Any]:
        def rel(p: Path | None) -> str | None:
            if p is None:
                return None
            with contextlib.suppress(ValueError):
                return p.relative_to(root).as_posix() if root else str(p)
            return str(p)

        return {"limit": self.limit, "exact": self.exact, "method": self.method, "longest": self.longest,
                "longest_path": rel(self.longest_path),
                "over": [{"path": rel(p), "tokens": n} for p, n in self.over], "warning": self.warning}


def load_counter(model_ref: str) -> tuple[Callable[[list[str]], list[int]], bool, str]:
    """A function counting tokens of many texts, whether it is exact, and how it counts."""
    tok = _local_tokenizer(model_ref)
    if tok is None:
        return (lambda texts: [approximate_tokens(t) for t in texts]), False, "approximation"
    tokenizer, where = tok

    def count(texts: list[str]) -> list[int]:
        if not texts:
            return []
        ids = tokenizer(texts, add_special_tokens=False, truncation=False)["input_ids"]
        return [len(x) for x in ids]

    return count, True, f"tokenizer {where}"


def _local_tokenizer(model_ref: str):
    """The CLIP tokenizer of ``model_ref`` if it is on this machine, else None. Looks for files
    first, so transformers is imported only when there is something to load."""
    folder = _tokenizer_folder(model_ref)
    if folder is None:
        return None
    try:
        from transformers import CLIPTokenizer
        from transformers.utils import logging as hf_logging

        previous = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()  # no "sequence is longer than 77" chatter
        try:
            tok = CLIPTokenizer.from_pretrained(str(folder))
        finally:
            hf_logging.set_verbosity(previous)
    except Exception:  # noqa: BLE001 - a broken tokenizer folder: fall back to the estimate
        return None
    tok.model_max_length = 10**9
    return tok, str(folder)


def _tokenizer_folder(model_ref: str) -> Path | None:
    path = Path(model_ref).expanduser() if model_ref else None
    if path is not None and path.is_dir():
        if (path / "tokenizer" / "vocab.json").is_file():
            return path / "tokenizer"
    elif model_ref and "/" in model_ref and not model_ref.lower().endswith((".safetensors", ".ckpt")):
        found = _cached(model_ref, "tokenizer/")
        if found:
            return found
    return _cached(CLIP_TOKENIZER_REPO, "")


def _cached(repo: str, prefix: str) -> Path | None:
    try:
        from huggingface_hub import try_to_load_from_cache

        vocab = try_to_load_from_cache(repo, prefix + "vocab.json")
        merges = try_to_load_from_cache(repo, prefix + "merges.txt")
    except Exception:  # noqa: BLE001 - an invalid repo id is simply "not cached"
        return None
    if isinstance(vocab, str) and isinstance(merges, str):
        return Path(vocab).parent
    return None


def token_report(texts: dict[Path, list[str]], model_ref: str, limit: int) -> TokenReport:
    """Count every caption (path → tags) and report the longest and those over ``limit``."""
    count, exact, method = load_counter(model_ref)
    paths = list(texts)
    counts = count([format_tags(texts[p]) for p in paths])
    report = TokenReport(limit, exact, method)
    for p, n in zip(paths, counts):
        if n > report.longest:
            report.longest, report.longest_path = n, p
        if n > limit:
            report.over.append((p, n))
    report.over.sort(key=lambda x: -x[1])
    return report
