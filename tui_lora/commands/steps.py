"""tui-lora steps DIR | tui-lora steps --images N --repeats R --epochs E --batch B"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from tui_lora.commands._common import add_project_arg, emit, load_project, non_negative_int, positive_float, positive_int
from tui_lora.core.dataset.folders import MAX_REPEATS
from tui_lora.core.errors import UserError
from tui_lora.core.humanize import duration

if TYPE_CHECKING:
    from tui_lora.core.plan import Plan

HELP = "compute steps (images × repeats × epochs ÷ batch), VRAM and warnings"
DESCRIPTION = (
    "Show how many training steps a project (or a hypothetical dataset) makes, the arithmetic behind it, "
    "an estimate of time and VRAM, and warnings with a fix for each. Exit code 2 when an error makes the "
    "plan untrainable (no images, every learning rate 0)."
)


# project.family's and project.subject's choices (tests/test_cli.py checks them against the schema): the
# schema costs ~35 ms to import, which `tui-lora --help` would pay for two lists.
FAMILIES = ("sd15", "sdxl")
SUBJECTS = ("character", "style", "concept")


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_project_arg(p, optional=True)
    p.add_argument("--images", type=non_negative_int, metavar="N", help="number of images (without DIR)")
    p.add_argument("--repeats", type=positive_int, metavar="R", help="repeats per image (without DIR; default 1)")
    p.add_argument("--epochs", type=non_negative_int, metavar="E", help="epochs (overrides the project's)")
    p.add_argument("--batch", type=positive_int, metavar="B", help="batch size per GPU (overrides the project's)")
    p.add_argument("--gpus", type=positive_int, default=1, metavar="N", help="number of GPUs (global batch = batch × GPUs)")
    p.add_argument("--family", choices=FAMILIES, help=f"model family (without DIR; default {FAMILIES[0]})")
    p.add_argument("--subject", choices=SUBJECTS, help="what the LoRA teaches (without DIR)")
    p.add_argument("--it-per-s", type=positive_float, metavar="X", help="training speed for the time estimate")
    p.add_argument("--vary", action="append", default=[], metavar="SECTION.KEY=V1,V2",
                   help="plan a sweep (as `tui-lora sweep` takes it): every variant's steps and the whole sweep's "
                        "total and time; --gpus is then how many variants train at once")


def run(args: argparse.Namespace) -> int:
    from tui_lora.core.plan import FolderCount, PlanInput, make_plan, plan_for_project  # not needed for --help

    if args.dir:
        if args.images is not None or args.repeats is not None:
            raise UserError("--images and --repeats describe a dataset without a project; drop them or drop DIR.")
        project = load_project(args)
        if args.vary:
            return _sweep(project, args)
        overrides = []
        if args.epochs is not None:
            overrides.append(f"training.max_train_epochs={args.epochs}")
        if args.batch is not None:
            overrides.append(f"training.train_batch_size={args.batch}")
        plan = plan_for_project(project, settings=project.effective_settings(overrides), gpus=args.gpus,
                                it_per_s=args.it_per_s)
    else:
        if args.vary:
            raise UserError("--vary plans a sweep of a project; give the project folder, e.g. tui-lora steps DIR "
                            "--vary training.unet_lr=1e-4,5e-4.")
        if args.images is None:
            raise UserError("Give a project folder (tui-lora steps DIR) or at least --images N, "
                            "e.g. tui-lora steps --images 20 --repeats 5 --epochs 10 --batch 4.")
        given = {"epochs": args.epochs, "family": args.family, "subject": args.subject}  # else the schema's defaults
        if args.repeats is not None and args.repeats > MAX_REPEATS:
            raise UserError(f"--repeats {args.repeats} is more than training allows; use 1 to {MAX_REPEATS}.")
        plan = make_plan(PlanInput(
            folders=(FolderCount("dataset", args.images, args.repeats or 1),),
            batch_size=args.batch or 1,
            max_train_steps=0,
            gpus=args.gpus,
            resolution=1024 if args.family == "sdxl" else 512,
            it_per_s=args.it_per_s,
            **{k: v for k, v in given.items() if v is not None},
        ))
        if plan.epochs == 0:
            raise UserError("--epochs 0 trains nothing; give at least 1 epoch.")
    emit(args, plan.to_dict(), render(plan))
    return 2 if plan.errors else 0  # an error (no images, nothing to train) is bad input to fix first


def render(plan: Plan) -> list[str]:
    lines = list(plan.breakdown)
    lines.append(f"{plan.total_steps} steps in {plan.epochs} epochs, {plan.saved_files} LoRA files saved")
    if plan.seconds is not None:
        lines.append(f"about {duration(plan.seconds)} at {plan.input.it_per_s:.2f} it/s")
    if plan.vram:
        lines.append(f"estimated VRAM: {plan.vram.total_gb:.1f} GB per GPU")
    for issue in plan.issues:
        lines.append(f"{issue.level}: {issue.message} {issue.fix}")
    return lines


def _sweep(project, args: argparse.Namespace) -> int:
    from tui_lora.core.sweep import parse_varies
    from tui_lora.core.sweep.plan import plan_sweep, wall_seconds

    base = []
    if args.epochs is not None:
        base.append(f"training.max_train_epochs={args.epochs}")
    if args.batch is not None:
        base.append(f"training.train_batch_size={args.batch}")
    plan = plan_sweep(project, parse_varies(args.vary), it_per_s=args.it_per_s, base_overrides=base)
    wall = wall_seconds(plan, args.gpus)
    width = max(len(v.label) for v, _p in plan.variants)
    lines = [f"  {v.label:<{width}}  {p.total_steps} steps in {p.epochs} epochs"
             + (f", about {duration(p.seconds)}" if p.seconds is not None else "")
             + (f", {p.vram.total_gb:.1f} GB VRAM" if p.vram else "") for v, p in plan.variants]
    lines.append(f"{len(plan.variants)} variants, {plan.total_steps} steps in all")
    if wall is not None:
        at_once = f" with {args.gpus} at a time" if args.gpus > 1 else ""
        lines.append(f"about {duration(wall)}{at_once} at {plan.variants[0][1].input.it_per_s:.2f} it/s")
    else:
        lines.append("time: unknown until a first training run measures the speed (or pass --it-per-s)")
    if len(plan.variants) > 16:
        lines.append("more than 16 variants: `tui-lora sweep` asks for --yes")
    emit(args, {**plan.to_dict(), "wall_seconds": wall, "gpus": args.gpus}, lines)
    return 0
