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

HELP = "render an epoch x weight comparison grid, or keep the winner with --pick"
DESCRIPTION = (
    "Render one prompt with every saved epoch at several LoRA weights (plus the base model without the LoRA) "
    "into a labelled grid in output/samples/, with a JSON index next to it. Each file is applied through "
    "diffusers' load_lora_weights, as webui users load it. --pick EPOCH --weight W copies the winner to "
    "output/<name>-best.safetensors with the epoch and weight in its metadata."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_project_arg(p)
    p.add_argument("--prompt", help="the prompt (kohya's line options such as --n … --d 42 may follow inside the "
                                    "quotes); default: the first [sample] prompt")
    p.add_argument("--negative", help="the negative prompt")
    p.add_argument("--epochs", metavar="2,4,6", help="epochs to compare (\"final\" is the final file); default: all")
    p.add_argument("--weights", metavar="0.6,0.8,1.0", help="LoRA weights, one column each (default 0.6,0.8,1.0)")
    p.add_argument("--seed", type=non_negative_int, help="default: training.seed")
    p.add_argument("--steps", type=positive_int, help="sampling steps (default 30)")
    p.add_argument("--cfg", type=float, metavar="SCALE", help="CFG scale (default 7.5)")
    p.add_argument("--width", type=positive_int, help="default: dataset.resolution")
    p.add_argument("--height", type=positive_int, help="default: dataset.resolution")
    p.add_argument("--sampler", choices=SAMPLERS, metavar="NAME",
                   help="kohya's sampler name, e.g. euler_a, dpmsolver++ (DPM++ 2M Karras), ddim; "
                        "default: sample.sampler")
    p.add_argument("--out", metavar="PATH", help="the grid's path (default output/samples/compare-<time>.png)")
    p.add_argument("--base-model", metavar="REF", help="compare on another base model (repo id, folder or file)")
    p.add_argument("--device", metavar="DEV", help="cuda, cuda:1 or cpu (default: the first CUDA GPU, else the CPU)")
    p.add_argument("--pick", metavar="EPOCH", help="keep this epoch (a number or \"final\") as "
                                                   "output/<name>-best.safetensors; renders nothing")
    p.add_argument("--weight", metavar="W", help="with --pick: the weight to record (e.g. 0.8)")
    p.add_argument("--progress-json", action="store_true",
                   help="write progress to stderr as JSON lines ({\"event\": \"progress\", \"done\", \"total\", "
                        "\"what\"}, \"log\" and \"warning\" with a \"message\"), for programs such as the wizard")


def _prompt(args: argparse.Namespace, project):
    """The prompt with its options, then the command-line flags on top."""
    from dataclasses import replace

    from tui_lora.core.sample_prompts import (
        check_cfg,
        check_size,
        check_steps,
        load_sample_prompts,
        parse_prompt_line,
    )

    if args.prompt is not None:
        sp = parse_prompt_line(args.prompt, where="--prompt")
    else:
        prompts = load_sample_prompts(project.root, project.settings["sample"])
        if not prompts:
            raise UserError("Give the prompt to compare with --prompt \"…\" (or add sample prompts to [sample] "
                            "prompts in project.toml).")
        sp = prompts[0]
    changes: dict = {}
    if args.negative is not None:
        changes["negative"] = args.negative
    if args.seed is not None:
        changes["seed"] = args.seed % 2**32
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
    return replace(sp, **changes)


def _pick(args: argparse.Namespace, project) -> int:
    from tui_lora.core.compare import parse_epochs, pick_best

    if args.weight is None:
        raise UserError("--pick needs the weight to record, e.g. --pick 4 --weight 0.8.")
    epochs = parse_epochs(args.pick)
    if len(epochs) != 1:
        raise UserError(f"--pick {args.pick} names more than one epoch; pick one, e.g. --pick 4.")
    path = pick_best(project, epochs[0], args.weight)
    from tui_lora.core.compare.files import find_epoch

    chosen = find_epoch(project, epochs[0])
    emit(args, {"best": str(path), "epoch": chosen.epoch, "weight": float(args.weight), "source": str(chosen.path)},
         [f"Kept {chosen.label} at weight {float(args.weight):g}: {path}"])
    return 0


def run(args: argparse.Namespace) -> int:
    from tui_lora.core.compare import parse_epochs, parse_weights, plan_compare

    project = load_project(args)
    if args.pick is not None:
        return _pick(args, project)
    if args.weight is not None:
        raise UserError("--weight goes with --pick; to render several weights use --weights 0.6,0.8,1.0.")
    sp = _prompt(args, project)
    # Every check on the request happens here, before torch and the model load.
    plan = plan_compare(project, sp, epochs=parse_epochs(args.epochs) if args.epochs is not None else None,
                        weights=parse_weights(args.weights) if args.weights is not None else None, out=args.out)
    trigger = project.settings["project"]["trigger_word"]

    from tui_lora.core.compare import run_compare

    report = _Reporter(args.progress_json)
    report.log(f"comparing {len(plan.rows)} epoch(s) x {len(plan.weights)} weight(s) + no LoRA, "
               f"{plan.prompt.width}x{plan.prompt.height}, {plan.prompt.steps} steps, seed {plan.prompt.seed}")
    if trigger and trigger.lower() not in plan.prompt.prompt.lower():
        report.log(f"note: the prompt does not contain the trigger word {trigger!r}")
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
    emit(args, data, [f"grid: {result.grid_path} ({result.size[0]}x{result.size[1]})",
                      f"index: {result.index_path}",
                      f"Keep the best with `tui-lora compare {args.dir} --pick EPOCH --weight W`."])
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
