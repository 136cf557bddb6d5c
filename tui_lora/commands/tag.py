"""tui-lora tag — auto-tag images with a WD14 tagger (or caption them with BLIP)"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from collections.abc import Callable

from tui_lora.commands._common import add_project_arg, emit, load_project, positive_int
from tui_lora.commands._progress import CliProgress

HELP = "auto-tag images with a WD14 tagger (or caption them with BLIP)"
DESCRIPTION = (
    "Tag every image of the project's dataset and write same-name .txt captions. Defaults come from "
    "the project's [tags] section. The trigger word stays first. Undo with `tui-lora tags DIR --undo`. "
    "Ctrl-C or SIGTERM stops after the current batch and keeps (undoably) what was written; exit code 130."
)
STOPPED_EXIT = 130


def probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is outside 0-1 (confidences are e.g. 0.35)")
    return value


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_project_arg(p)
    p.add_argument("--model", metavar="REPO_OR_DIR",
                   help="Hugging Face repo id or local folder (WD14: model.onnx + selected_tags.csv); "
                        "default: tags.tagger_model, else SmilingWolf/wd-eva02-large-tagger-v3")
    p.add_argument("--threshold", type=probability, metavar="P",
                   help="confidence for general tags (default: tags.threshold, 0.35)")
    p.add_argument("--character-threshold", type=probability, metavar="P",
                   help="confidence for character names (default: tags.character_threshold, 0.85)")
    p.add_argument("--mode", choices=("overwrite", "append", "missing"), default="overwrite",
                   help="overwrite captions, append new tags to them, or tag only images without one")
    p.add_argument("--backend", choices=("wd14", "blip"),
                   help="wd14 booru tags or blip sentences (default: tags.tagger, wd14)")
    p.add_argument("--batch", type=positive_int, default=8, metavar="N", help="images per model call (default 8)")
    p.add_argument("--device", choices=("auto", "cuda", "cpu"), default="auto",
                   help="auto uses the GPU when its runtime really loads (default)")
    p.add_argument("--no-trigger", action="store_true", help="do not put the project's trigger word first")
    p.add_argument("--progress-json", action="store_true",
                   help="progress as JSON lines on stderr ({\"event\": \"progress\", \"done\", \"total\"}), "
                        "for programs that run this command")


def run(args: argparse.Namespace) -> int:
    from tui_lora.core.tagging.autotag import tag_dataset

    project = load_project(args)
    bar = CliProgress(enabled=not args.json and not args.progress_json, transient=False)
    show: Callable[[int, int], None] = (_json_progress if args.progress_json
                                        else lambda done, total: bar.update("tagging", done, total))
    cancel, tagging = threading.Event(), threading.Event()

    def progress(done: int, total: int) -> None:
        tagging.set()
        show(done, total)

    try:
        with _stop_on_signals(cancel, tagging):
            result = tag_dataset(project, backend=args.backend, model=args.model, threshold=args.threshold,
                                 character_threshold=args.character_threshold, mode=args.mode,
                                 batch_size=args.batch, device=args.device, progress=progress, cancel=cancel,
                                 add_trigger=not args.no_trigger)
    finally:
        bar.close()
    data = result.to_dict(project.root)
    lines = []
    if result.total == 0:
        lines.append(f"Nothing to tag: every image already has a caption (mode {args.mode})."
                     if args.mode == "missing" else "Nothing to tag.")
    else:
        verb = "Stopped after tagging" if result.cancelled else "Tagged"
        lines.append(f"{verb} {len(result.tagged)} of {result.total} images with {result.backend} "
                     f"({result.model}) on {result.device}, mode {result.mode}"
                     + (f"; {result.unchanged} were already identical." if result.unchanged else "."))
    if result.skipped_captioned:
        lines.append(f"{result.skipped_captioned} images already had a caption and were left alone.")
    for label, items in (("could not be read and were skipped", result.unreadable),
                         ("have an unreadable caption and were skipped", result.skipped_unreadable_caption)):
        if items:
            lines.append(f"{len(items)} images {label}:")
            lines += [f"  {p.relative_to(project.root)}: {reason}" for p, reason in items]
    if result.token_warning:
        lines.append("warning: " + result.token_warning)
    if result.tagged:
        lines.append(f"Review with `tui-lora tags {args.dir}`; undo with `tui-lora tags {args.dir} --undo`.")
    emit(args, data, lines)
    return STOPPED_EXIT if result.cancelled else 0


def _json_progress(done: int, total: int) -> None:
    print(json.dumps({"event": "progress", "done": done, "total": total}), file=sys.stderr, flush=True)


def _stop_on_signals(cancel: threading.Event, tagging: threading.Event):
    """Once images are being tagged, the first Ctrl-C or SIGTERM (the wizard's esc) stops after the
    current batch, keeping what was written; a second one, or one while the model still loads,
    interrupts at once (nothing is lost: what was written stays undoable)."""
    from tui_lora.core.signals import route_signals

    def on_signal(signum, frame) -> None:
        if cancel.is_set() or not tagging.is_set():
            raise KeyboardInterrupt
        cancel.set()

    return route_signals(on_signal)
