"""tui-lora export DIR [--epoch E | --best] --to PATH|comfyui|a1111|forge [--force]"""

from __future__ import annotations

import argparse

from tui_lora.commands._common import add_project_arg, emit, load_project
from tui_lora.core.errors import Fix, UserError

HELP = "copy the LoRA into ComfyUI / AUTOMATIC1111 / Forge (or a folder) and print how to use it"
DESCRIPTION = (
    "Copy the project's LoRA file where a UI loads it and print the prompt snippet <lora:NAME:W>, TRIGGER "
    "(W: the weight a comparison picked, else 0.8). Without --epoch or --best it takes the winner "
    "`tui-lora compare --pick` kept, else the final file. --to comfyui / a1111 / forge finds the install in "
    "the folder $COMFYUI_PATH (A1111_PATH, FORGE_PATH) names, else under the current folder, ~, /workspace "
    "and /opt (TUI_LORA_UI_ROOTS replaces that list), and says where it looked when none is there. The copy is "
    "atomic; a different file of the same name is only replaced with --force."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_project_arg(p)
    which = p.add_mutually_exclusive_group()
    which.add_argument("--epoch", metavar="E", help="export this epoch's file (a number, or final)")
    which.add_argument("--best", action="store_true", help="export the winner a comparison kept (NAME-best)")
    p.add_argument("--to", required=True, metavar="PATH|comfyui|a1111|forge",
                   help="a UI (its LoRA folder is found), a folder, or a .safetensors file name")
    p.add_argument("--force", action="store_true", help="replace a different file of the same name")


def run(args: argparse.Namespace) -> int:
    from tui_lora.core.export import TargetExists, export_lora

    project = load_project(args)
    epoch = _epoch(args.epoch)
    try:
        result = export_lora(project, args.to, epoch=epoch, best=args.best, force=args.force)
    except TargetExists as exc:
        raise UserError(exc.problem, Fix("pass --force to replace it, or give another --to")) from None
    verb = "Copied" if result.copied else "Already there (the same file):"
    where = f" ({result.ui}'s LoRA folder)" if result.ui else ""
    weight = "the weight you picked" if result.weight_picked else "a usual start; compare weights to pick yours"
    lines = [f"{verb} {result.source.name} → {result.target}{where}",
             f"In a prompt (AUTOMATIC1111, Forge): {result.snippet}   ({result.weight:g}: {weight})",
             f"In ComfyUI: a LoraLoader node with lora_name {result.target.name}, strength {result.weight:g}"
             + (f"; put {result.trigger} in the prompt." if result.trigger else ".")]
    emit(args, result.to_dict(), lines)
    return 0


def _epoch(text: str | None) -> int | str | None:
    if text is None:
        return None
    t = text.strip().lower()
    if t == "final":
        return "final"
    try:
        return int(t)
    except ValueError:
        raise UserError(f"--epoch {text} is not an epoch number", Fix("give a number such as 4, or final")) from None
