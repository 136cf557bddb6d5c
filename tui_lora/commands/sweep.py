"""tui-lora sweep DIR --vary section.key=v1,v2 [--vary …] [--detach] [--gpus N] [--resume | --restart] [--yes]"""

from __future__ import annotations

import argparse
import sys

from tui_lora.commands._common import add_project_arg, emit, load_project, positive_int
from tui_lora.commands._fixes import say, step_words
from tui_lora.core.errors import UserError

HELP = "train variants of the settings (learning rate, dim, alpha …) to compare them"
DESCRIPTION = (
    "Train every combination of the values given with --vary, each as a variant of the project: its own "
    "settings (project.toml plus the varied values), its LoRA files in output/sweep/<label>/ named "
    "<name>-<label> (the label names the values, e.g. lr5e-4_dim16), its events and log in logs/sweep/<label>/. "
    "A sweep is a job like train: --detach runs it in the background, `tui-lora status DIR` shows every variant, "
    "`tui-lora stop DIR` stops it saving the running variant's state, and --resume skips finished variants and "
    "continues the stopped ones. A failing variant (NaN, out of memory) is recorded and the others go on. "
    "Compare the variants with `tui-lora compare DIR --sweep`."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_project_arg(p)
    p.add_argument("--vary", action="append", default=[], metavar="SECTION.KEY=V1,V2",
                   help="a setting and its values, e.g. --vary training.unet_lr=1e-4,5e-4 (repeat for more settings; "
                        "every combination is trained)")
    p.add_argument("--detach", action="store_true",
                   help="run in the background; watch with `tui-lora status DIR`, stop with `tui-lora stop DIR`")
    p.add_argument("--resume", action="store_true", help="continue the stopped sweep (finished variants are kept)")
    p.add_argument("--restart", action="store_true",
                   help="start a new sweep although a stopped one waits (its files move to output/previous-sweeps/)")
    p.add_argument("--gpus", type=positive_int, default=1, metavar="N",
                   help="train N variants at a time, one per GPU (with --device cpu: N processes on the CPU)")
    p.add_argument("--device", metavar="DEV", help="cuda or cpu (default: the first CUDA GPU, else the CPU)")
    p.add_argument("--yes", action="store_true", help="train more than 16 variants without asking")
    # Internal: the detached job, and one worker of a multi-GPU sweep.
    p.add_argument("--job-child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--worker", metavar="LABEL", help=argparse.SUPPRESS)
    p.add_argument("--worker-resume", action="store_true", help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    project = load_project(args)
    if args.worker:
        return _worker(project, args)
    from tui_lora.core.sweep import parse_varies
    from tui_lora.core.sweep.spec import SweepTooLarge

    if args.job_child:
        varies = None
    elif args.resume:
        varies = parse_varies(args.vary) if args.vary else None
    else:
        if not args.vary:
            raise UserError("Name what to vary, e.g. tui-lora sweep DIR --vary training.unet_lr=1e-4,5e-4 --vary "
                            "network.network_dim=8,16 (or --resume to continue the stopped sweep).")
        varies = parse_varies(args.vary)
    try:
        if args.detach:
            return _detach(project, args, varies)
        return _foreground(project, args, varies)
    except SweepTooLarge as exc:
        raise UserError(f"The sweep makes {exc.count} variants, each a full training; pass --yes to train them "
                        "all, or vary fewer values.") from None


def _detach(project, args, varies) -> int:
    from tui_lora.core.sweep.job import start_sweep_job
    from tui_lora.core.sweep.status import sweep_status

    info = start_sweep_job(project, varies=varies, resume=args.resume, restart=args.restart, confirmed=args.yes,
                           gpus=args.gpus, device=args.device)
    status = sweep_status(project)
    count = len(status.variants) if status else 0
    emit(args, {**info.to_dict(), "variants": [v.to_dict(step_words) for v in status.variants] if status else []}, [
        f"Sweep of {count} variant{'s' if count != 1 else ''} started in the background (pid {info.pid}); "
        f"log: {info.log_path}",
        f"watch it with `tui-lora status {project.root}`, stop it with `tui-lora stop {project.root}`"])
    return 0


def _foreground(project, args, varies) -> int:
    from tui_lora.core.sweep.job import run_sweep_job

    stream = sys.stderr if args.json else sys.stdout

    def show(line: str) -> None:
        print(line, file=stream, flush=True)

    try:
        result = run_sweep_job(project, varies=varies, resume=args.resume or args.job_child, restart=args.restart,
                               confirmed=args.yes, gpus=args.gpus, device=args.device, stream=stream, say=show,
                               name=step_words)
    except KeyboardInterrupt:
        raise UserError(f"Sweep interrupted; finished variants are kept, and `tui-lora sweep {project.root} --resume` "
                        "continues the rest.", exit_code=130) from None
    done = len(result.done) + len(result.skipped)
    lines = [f"{done} variant{'s' if done != 1 else ''} done"
             + (f", {len(result.failed)} failed" if result.failed else "")
             + (f", {len(result.stopped)} stopped or waiting" if result.stopped else "")]
    for label, why in result.failed.items():
        lines.append(f"failed: {label}: {say(why)}")
    if result.stopped:
        lines.append(f"continue with `tui-lora sweep {project.root} --resume`")
    else:
        lines.append(f"compare them with `tui-lora compare {project.root} --sweep`")
    emit(args, result.to_dict(step_words), lines)
    if result.stopped:
        return 130
    return 1 if result.failed else 0


def _worker(project, args) -> int:
    from tui_lora.core.sweep.job import run_worker_job

    try:
        result = run_worker_job(project, args.worker, resume=args.worker_resume, device=args.device,
                                stream=sys.stdout, name=step_words)
    except KeyboardInterrupt:
        return 130
    except UserError as exc:
        print(f"error: {say(exc)}", flush=True)
        return exc.exit_code  # the variant's record says why; the sweep reports it
    return 130 if result.stopped else 0
