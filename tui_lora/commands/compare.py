"""tui-lora compare — render an epoch x weight comparison grid, or keep the winner with --pick"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading

from tui_lora.commands._common import add_project_arg, emit, load_project, non_negative_int, positive_int
from tui_lora.core.errors import UserError
from tui_lora.core.registry.samplers import NAMES as SAMPLERS
from tui_lora.core.humanize import count

# core.compare.run.SHEETS (tests/test_cli.py checks it): the comparison package costs ~30 ms to import,
# which `tui-lora --help` would pay for one list.
SHEETS = ("separate", "combined")

HELP = "render an epoch (or sweep variant) x weight comparison, or keep the winner with --pick"
DESCRIPTION = (
    "Render the prompts with several seeds for every saved epoch at several LoRA weights (plus the base model "
    "without the LoRA) into labelled sheets in output/samples/, with a JSON index next to them: one sheet per "
    "prompt and seed, or --sheet combined for one sheet whose cells show every prompt x seed side by side. "
    "--sweep compares the variants of `tui-lora sweep` instead of the epochs. Each file is applied through "
    "diffusers' load_lora_weights, as webui users load it. --pick EPOCH (or VARIANT:EPOCH) --weight W copies the "
    "winner to output/<name>-best.safetensors with what won in its metadata; --adopt also writes the winning "
    "variant's settings into project.toml."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_project_arg(p)
    p.add_argument("--prompt", action="append", metavar="TEXT",
                   help="a prompt; repeat for several (kohya's line options such as --n … --d 42 may follow inside "
                        "the quotes); default: every [sample] prompt")
    p.add_argument("--negative", help="the negative prompt (for every prompt)")
    p.add_argument("--epochs", metavar="2,4,6",
                   help="epochs to compare (\"final\" is the final file); default: all (with --sweep: final)")
    p.add_argument("--weights", metavar="0.6,0.8,1.0", help="LoRA weights, one column each (default 0.6,0.8,1.0)")
    p.add_argument("--seeds", metavar="1,2", help="seeds: every prompt is rendered with each (default: two per "
                                                  "prompt, its own seed and the next)")
    p.add_argument("--seed", type=non_negative_int, help="one seed for every prompt (the same as --seeds N)")
    p.add_argument("--sheet", choices=SHEETS, default="separate",
                   help="separate: one sheet per prompt x seed (default); combined: one sheet, each cell showing "
                        "every prompt x seed (prompts down, seeds across)")
    p.add_argument("--sweep", action="store_true",
                   help="rows are the variants of the project's sweep (x --epochs, default final), labelled with "
                        "their varied values")
    p.add_argument("--variants", metavar="A,B", help="with --sweep: only these variants (labels)")
    p.add_argument("--steps", type=positive_int, help="sampling steps (default 30)")
    p.add_argument("--cfg", type=float, metavar="SCALE", help="CFG scale (default 7.5)")
    p.add_argument("--width", type=positive_int, help="default: dataset.resolution")
    p.add_argument("--height", type=positive_int, help="default: dataset.resolution")
    p.add_argument("--sampler", choices=SAMPLERS, metavar="NAME",
                   help="kohya's sampler name, e.g. euler_a, dpmsolver++ (DPM++ 2M Karras), ddim; "
                        "default: sample.sampler")
    p.add_argument("--batch", type=positive_int, metavar="N",
                   help="pictures per pipeline call (default: by picture size, 8 at 512 px, 2 at 1024 px; 1 renders "
                        "one at a time)")
    p.add_argument("--out", metavar="PATH", help="the first sheet's path (default output/samples/compare-<time>.png)")
    p.add_argument("--base-model", metavar="REF", help="compare on another base model (repo id, folder or file)")
    p.add_argument("--device", metavar="DEV", help="cuda, cuda:1 or cpu (default: the first CUDA GPU, else the CPU)")
    p.add_argument("--pick", metavar="EPOCH", help="keep this epoch (a number or \"final\"), or a sweep variant's "
                                                   "(VARIANT:EPOCH, e.g. lr5e-4_dim16:final), as "
                                                   "output/<name>-best.safetensors; renders nothing")
    p.add_argument("--weight", metavar="W", help="with --pick: the weight to record (e.g. 0.8)")
    p.add_argument("--adopt", action="store_true",
                   help="with --pick VARIANT:EPOCH: also write the variant's settings into project.toml")
    p.add_argument("--progress-json", action="store_true",
                   help="write progress to stderr as JSON lines ({\"event\": \"progress\", \"done\", \"total\", "
                        "\"what\"}, \"log\" and \"warning\" with a \"message\"), for programs such as the wizard")


def _prompts(args: argparse.Namespace, project) -> list:
    """The prompts with their options, then the command-line flags on top."""
    from dataclasses import replace

    from tui_lora.core.sample_prompts import (
        check_cfg,
        check_size,
        check_steps,
        load_sample_prompts,
        parse_prompt_line,
    )

    if args.prompt:
        prompts = [parse_prompt_line(text, where="--prompt") for text in args.prompt]
    else:
        prompts = load_sample_prompts(project.root, project.settings["sample"])
        if not prompts:
            raise UserError("Give the prompt to compare with --prompt \"…\" (or add sample prompts to [sample] "
                            "prompts in project.toml).")
    changes: dict = {}
    if args.negative is not None:
        changes["negative"] = args.negative
    if args.steps is not None:
        changes["steps"] = check_steps(args.steps, "--steps")
    if args.cfg is not None:
        changes["cfg"] = check_cfg(args.cfg, "--cfg")
    if args.width is not None:
        changes["width"] = check_size(args.width, "--width")
    if args.height is not None:
        changes["height"] = check_size(args.height, "--height")
    if args.sampler is not None:
        changes["sampler"] = args.sampler
    return [replace(sp, **changes) for sp in prompts]


def _use_it(args: argparse.Namespace, path, weight: float) -> str:
    return (f"Use it: `tui-lora export {args.dir} --to comfyui` (or a1111, forge, a folder) copies it and prints "
            f"the prompt snippet <lora:{path.stem}:{weight:g}>.")


def _pick(args: argparse.Namespace, project) -> int:
    from tui_lora.core.compare import parse_pick, pick_best
    from tui_lora.core.compare.files import find_epoch
    from tui_lora.core.compare.variants import adopt_variant, find_variant_epoch

    if args.weight is None:
        raise UserError("--pick needs the weight to record, e.g. --pick 4 --weight 0.8.")
    variant_label, epoch = parse_pick(args.pick, project)
    if args.adopt and variant_label is None:
        raise UserError("--adopt takes a sweep variant's settings; pick a variant, e.g. --pick lr5e-4_dim16:final.")
    path = pick_best(project, epoch, args.weight, variant=variant_label)
    weight = float(args.weight)
    if variant_label is None:
        chosen = find_epoch(project, epoch)
        emit(args, {"best": str(path), "epoch": chosen.epoch, "weight": weight, "source": str(chosen.path)},
             [f"Kept {chosen.label} at weight {weight:g}: {path}", _use_it(args, path, weight)])
        return 0
    variant, chosen = find_variant_epoch(project, variant_label, epoch)
    data = {"best": str(path), "epoch": chosen.epoch, "weight": weight, "source": str(chosen.path),
            "variant": variant.label, "settings": variant.values, "adopted": []}
    lines = [f"Kept variant {variant.label} ({variant.describe()}), {chosen.epoch_label}, at weight {weight:g}: {path}"]
    if args.adopt:
        changes = adopt_variant(project, variant)
        data["adopted"] = [{"key": k, "old": a, "new": b} for k, a, b in changes]
        lines.append("project.toml now has " + ", ".join(f"{k} = {b}" for k, _a, b in changes) if changes else
                     "project.toml already had the variant's settings.")
    lines.append(_use_it(args, path, weight))
    emit(args, data, lines)
    return 0


def _seeds(args: argparse.Namespace) -> tuple[list[int] | None, int]:
    from tui_lora.core.compare import DEFAULT_SEEDS, parse_seeds

    if args.seeds is not None and args.seed is not None:
        raise UserError("--seed gives one seed and --seeds several; use one of them, e.g. --seeds 1,2.")
    if args.seeds is not None:
        return parse_seeds(args.seeds), 1
    if args.seed is not None:
        return [args.seed % 2**32], 1
    return None, DEFAULT_SEEDS


def _plan(args: argparse.Namespace, project):
    from tui_lora.core.compare import parse_epochs, parse_weights, plan_compare, select_variant_rows

    prompts = _prompts(args, project)
    seeds, per_prompt = _seeds(args)
    epochs = parse_epochs(args.epochs) if args.epochs is not None else None
    weights = parse_weights(args.weights) if args.weights is not None else None
    rows = missing = None
    if args.sweep:
        wanted = [v.strip() for v in args.variants.split(",") if v.strip()] if args.variants else None
        rows, missing = select_variant_rows(project, epochs, variants=wanted)
    elif args.variants:
        raise UserError("--variants chooses rows of a sweep; add --sweep.")
    return plan_compare(project, prompts, epochs=epochs, weights=weights, out=args.out, seeds=seeds,
                        seeds_per_prompt=per_prompt, sheet=args.sheet, rows=rows, max_batch=args.batch,
                        missing=missing)


def run(args: argparse.Namespace) -> int:
    project = load_project(args)
    if args.pick is not None:
        return _pick(args, project)
    if args.weight is not None:
        raise UserError("--weight goes with --pick; to render several weights use --weights 0.6,0.8,1.0.")
    if args.adopt:
        raise UserError("--adopt goes with --pick VARIANT:EPOCH, e.g. --pick lr5e-4_dim16:final --weight 0.8 --adopt.")
    # Every check on the request happens here, before torch and the model load.
    plan = _plan(args, project)
    trigger = project.settings["project"]["trigger_word"]

    from tui_lora.core.compare import run_compare

    report = _Reporter(args.progress_json)
    what = "variant row" if args.sweep else "epoch"
    seeds = ", ".join(str(s) for s in dict.fromkeys(x for ss in plan.seeds for x in ss))
    report.log(f"comparing {count(len(plan.rows), what)} x {count(len(plan.weights), 'weight')} + no LoRA, "
               f"{count(len(plan.prompts), 'prompt')} x seeds {seeds}, {plan.prompt.width}x{plan.prompt.height}, "
               f"{plan.prompt.steps} steps")
    for label in plan.missing:
        report.warn(f"variant {label} has no such file yet; it is left out")
    for sp in plan.prompts:
        if trigger and trigger.lower() not in sp.prompt.lower():
            report.log(f"note: the prompt {sp.prompt!r} does not contain the trigger word {trigger!r}")
    cancel = threading.Event()
    try:
        with _terminate_cancels(cancel, report):
            result = run_compare(project, plan, device=args.device, base_model=args.base_model,
                                 progress=report.progress, cancel=cancel, log=report.log, warn=report.warn)
    except KeyboardInterrupt:
        raise UserError("Comparison interrupted; no grid was written.", exit_code=130) from None
    if result.cancelled:
        raise UserError("Comparison cancelled; no grid was written.", exit_code=130)
    data = {**result.to_dict(), "plan": plan.to_dict()}
    sheets = plan.sheet_paths()
    pick = "VARIANT:EPOCH" if args.sweep else "EPOCH"
    lines = [f"grid: {result.grid_path} ({result.size[0]}x{result.size[1]})"]
    if len(sheets) > 1:
        lines.append(f"{count(len(sheets) - 1, 'more sheet')}: " + ", ".join(p.name for p in sheets[1:]))
    lines += [f"index: {result.index_path}",
              f"Keep the best with `tui-lora compare {args.dir} --pick {pick} --weight W`"
              + (" (--adopt also writes its settings into project.toml)." if args.sweep else ".")]
    emit(args, data, lines)
    return 0


class _Reporter:
    """Progress on stderr: ``[n/total] what`` lines for people, or JSON lines with --progress-json
    (stdout stays the result alone either way)."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.rendering = False  # the first cell has started: SIGTERM can cancel cleanly from here on
        self.writing = False  # every cell is done: the grid is being written and is left to finish

    def _say(self, event: str, text: str, **fields) -> None:
        if self.as_json:
            line = json.dumps({"event": event, **fields, **({"message": text} if text else {})}, ensure_ascii=False)
        else:
            line = text
        print(line, file=sys.stderr, flush=True)

    def log(self, message: str) -> None:
        self._say("log", message)

    def warn(self, message: str) -> None:
        self._say("warning", message if self.as_json else "warning: " + message)

    def progress(self, done: int, total: int, what: str) -> None:
        self.rendering = True
        self.writing = done >= total
        if self.as_json:
            self._say("progress", "", done=done, total=total, what=what)
        elif done < total:
            self._say("progress", f"[{done + 1}/{total}] {what}")


def _terminate_cancels(cancel: threading.Event, report: _Reporter):
    """SIGTERM (the wizard's Cancel) stops the comparison as cleanly as Ctrl+C: while the model loads
    it interrupts at once, while cells render it cancels the current image, and once every cell is
    done it lets the grid finish writing. Either way no half-written grid is left (exit code 130)."""
    from tui_lora.core.signals import route_signals

    def on_term(signum, frame) -> None:
        if report.writing:
            return
        if report.rendering:
            cancel.set()
        else:
            raise KeyboardInterrupt

    return route_signals(on_term, (signal.SIGTERM,))
