"""Sample prompts in kohya sd-scripts' line format (pure Python, no torch).

    1girl, ohwx, red hair --n lowres, bad hands --w 512 --h 768 --d 42 --l 7 --s 28 --ss euler_a

Options (as kohya's ``line_to_prompt_dict``): ``--n`` negative prompt, ``--w`` / ``--h`` size (rounded
down to a multiple of 8), ``--d`` seed, ``--l`` CFG scale, ``--s`` steps, ``--ss`` sampler. A prompts
file holds one prompt per line; empty lines and lines starting with ``#`` are skipped.
Unlike kohya, a prompt without ``--d`` gets a fixed seed (the training seed + its position), so the
samples of every epoch start from the same noise and differ only by what the LoRA learned.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from tui_lora.core.errors import ChangeSetting, Fix, UserError
from tui_lora.core.registry.samplers import NAMES as SAMPLERS

DEFAULT_STEPS = 30  # kohya's default sample steps
DEFAULT_CFG = 7.5  # kohya's default scale
MIN_SIZE, MAX_SIZE = 64, 4096
MAX_STEPS = 1000
OPTIONS = ("n", "w", "h", "d", "l", "s", "ss")
_OPTION_HELP = "--n negative, --w width, --h height, --d seed, --l cfg, --s steps, --ss sampler"


@dataclass(frozen=True)
class SamplePrompt:
    """One prompt; ``None`` fields take the run's defaults (see :meth:`resolved`)."""

    prompt: str
    negative: str = ""
    width: int | None = None
    height: int | None = None
    seed: int | None = None
    cfg: float | None = None
    steps: int | None = None
    sampler: str | None = None

    def resolved(self, *, index: int, base_seed: int, size: int, sampler: str) -> "SamplePrompt":
        """Every field filled: size from the training resolution, the seed from ``base_seed + index``."""
        return replace(
            self,
            width=self.width or size,
            height=self.height or size,
            seed=self.seed if self.seed is not None else (base_seed + index) % 2**32,
            cfg=self.cfg if self.cfg is not None else DEFAULT_CFG,
            steps=self.steps or DEFAULT_STEPS,
            sampler=self.sampler or sampler,
        )

    def to_dict(self) -> dict[str, Any]:
        return {"prompt": self.prompt, "negative": self.negative, "width": self.width, "height": self.height,
                "seed": self.seed, "cfg": self.cfg, "steps": self.steps, "sampler": self.sampler}


def check_size(n: int, label: str) -> int:
    """A width or height in pixels, rounded down to a multiple of 8 (as kohya: the VAE needs it)."""
    if n < MIN_SIZE or n > MAX_SIZE:
        raise UserError(f"{label} {n} is out of range", Fix(f"use {MIN_SIZE} to {MAX_SIZE} pixels"))
    return n - n % 8


def check_steps(n: int, label: str) -> int:
    if not 1 <= n <= MAX_STEPS:
        raise UserError(f"{label} {n} is out of range", Fix(f"use 1 to {MAX_STEPS} steps (20-30 is usual)"))
    return n


def check_cfg(x: float, label: str) -> float:
    if not 0 <= x <= 30:  # also False for NaN
        raise UserError(f"{label} {x:g} is not a CFG scale", Fix("use a number from 0 to 30, e.g. 7"))
    return x


def _int(value: str, label: str) -> int:
    if not re.fullmatch(r"\d+", value):
        raise UserError(f"{label} {value!r} is not a whole number", Fix(f"write e.g. {label.split()[-1]} 512"))
    return int(value)


def parse_prompt_line(line: str, *, where: str = "sample prompt") -> SamplePrompt:
    """Parse one line; a bad option is a one-sentence :class:`UserError` naming ``where``."""
    text = line.strip()
    head, *parts = re.split(r"(?:^|\s+)--(?=\S)", text)
    prompt = head.strip()
    if not prompt:
        raise UserError(f"{where} has no prompt text before its options",
                        Fix("write the prompt first, e.g. \"1girl, smile --n lowres\""))
    fields: dict[str, Any] = {}
    for part in parts:
        flag, _, value = part.partition(" ")
        flag, value = flag.lower(), value.strip()
        label = f"{where}: --{flag}"
        if flag not in OPTIONS:
            raise UserError(f"{where}: --{flag} is not a sample option", Fix(f"use {_OPTION_HELP}"))
        if flag != "n" and not value:
            raise UserError(f"{label} needs a value", Fix(f"e.g. --{flag} {_EXAMPLES[flag]}"))
        if flag == "n":
            fields["negative"] = value
        elif flag in ("w", "h"):
            fields["width" if flag == "w" else "height"] = check_size(_int(value, label), label)
        elif flag == "d":
            fields["seed"] = _int(value, label) % 2**32
        elif flag == "s":
            fields["steps"] = check_steps(_int(value, label), label)
        elif flag == "l":
            try:
                cfg = float(value)
            except ValueError:
                raise UserError(f"{label} {value!r} is not a number", Fix("write e.g. --l 7")) from None
            fields["cfg"] = check_cfg(cfg, label)
        elif flag == "ss":
            name = value.lower()
            if name not in SAMPLERS:
                raise UserError(f"{label} {value} is not a known sampler", Fix(f"use one of {', '.join(SAMPLERS)}"))
            fields["sampler"] = name
    return SamplePrompt(prompt, **fields)


_EXAMPLES = {"w": "512", "h": "512", "d": "42", "l": "7", "s": "28", "ss": "euler_a"}


def parse_prompt_lines(lines: list[str], *, source: str) -> list[SamplePrompt]:
    """Every non-empty, non-comment line of ``lines`` (1-based line numbers in errors)."""
    out = []
    for n, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        out.append(parse_prompt_line(line, where=f"{source} line {n}"))
    return out


def prompt_file_path(project_root: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else project_root / path


def load_sample_prompts(project_root: Path, sample_settings: Mapping[str, Any]) -> list[SamplePrompt]:
    """The prompts of ``[sample] prompts`` followed by those of ``sample.prompt_file``
    (``sample_settings``: the [sample] section, or a mapping with those two keys)."""
    prompts = parse_prompt_lines(list(sample_settings.get("prompts") or []), source="sample.prompts")
    value = sample_settings.get("prompt_file") or ""
    if value:
        path = prompt_file_path(project_root, value)
        try:
            text = path.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise UserError(f"The sample prompt file {path} does not exist",
                            Fix("create it (one prompt per line) or {}",
                                ChangeSetting("sample.prompt_file", verb="clear"))) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(f"Cannot read the sample prompt file {path} ({exc})",
                            Fix("save it as UTF-8 text")) from None
        prompts += parse_prompt_lines(text.splitlines(), source=path.name)
    return prompts
