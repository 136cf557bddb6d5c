"""tui-lora train DIR [--detach] [--resume | --restart] [--gpus N] [--set section.key=value ...]"""

from __future__ import annotations

import argparse
import sys

from tui_lora.commands._common import add_project_arg, emit, load_project, positive_int
from tui_lora.commands._fixes import notice_data, step_words
from tui_lora.core.errors import Notice, UserError

HELP = "train the LoRA (foreground, or --detach to run in the background)"
DESCRIPTION = (
    "Train the project's LoRA with the settings in project.toml (override any with --set). Progress goes to "
    "the terminal and to logs/events.jsonl; LoRA files go to output/ (one per save_every_n_epochs and the final one). "
    "Ctrl-C (or `tui-lora stop DIR`) stops after the current step and saves the LoRA and the state; --resume "
    "continues exactly where it stopped."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_project_arg(p)
    p.add_argument("--detach", action="store_true",
                   help="run in the background (survives closing the terminal); watch with `tui-lora status DIR`")
    p.add_argument("--resume", action="store_true", help="continue the stopped training from the state in state/")
    p.add_argument("--restart", action="store_true", help="start over, discarding a stopped training's state")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override a project.toml setting for this run, e.g. --set training.unet_lr=1e-4")
    p.add_argument("--gpus", type=positive_int, default=1, metavar="N",
                   help="train on N GPUs (DDP through accelerate; the batch size is per GPU)")
    p.add_argument("--device", metavar="DEV", help="cuda, cuda:1 or cpu (default: the first CUDA GPU, else the CPU)")


def run(args: argparse.Namespace) -> int:
    from tui_lora.core import jobs
    from tui_lora.core.train.launch import is_worker

    project = load_project(args)
    if args.detach:
        info = jobs.start_job(project, resume=args.resume, restart=args.restart, overrides=args.overrides,
                              gpus=args.gpus, device=args.device)
        emit(args, info.to_dict(), [
            f"Training started in the background (pid {info.pid}); log: {info.log_path}",
            f"follow it with `tui-lora status {project.root} --follow`, stop it with `tui-lora stop {project.root}`"])
        return 0
    # With --json, stdout carries only the final JSON object; progress goes to stderr.
    stream = sys.stderr if args.json else sys.stdout
    try:
        result = jobs.run_job(project, resume=args.resume, restart=args.restart, overrides=args.overrides,
                              gpus=args.gpus, device=args.device, stream=stream, name=step_words)
    except KeyboardInterrupt:
        if is_worker():
            return 130
        notice = jobs.job_status(project).message or Notice(
            f"Training interrupted; the LoRA files saved so far are in {project.output_dir}")
        raise UserError.from_notice(notice, exit_code=130) from None
    except UserError as exc:
        if is_worker():
            return exc.exit_code  # the launcher's parent reports it once, from the run's record
        raise
    if is_worker():
        return 130 if result.stopped else 0
    if result.stopped:
        notice = jobs.job_status(project).message or Notice("Training stopped")
        said = notice_data(notice)
        emit(args, result.to_dict(step_words) | {"message": said["message"], "fix": said["fix"]}, [said["message"]])
        return 130
    emit(args, result.to_dict(step_words), [
        f"Next: `{_compare_command(project)}` to pick the best epoch and weight, then "
        f"`tui-lora export {project.root} --to comfyui` (or a1111, forge, a folder) to use it."])
    return 0


def _compare_command(project) -> str:
    """compare renders the [sample] prompts by default; without any it needs one (a line to copy as is)."""
    if project.get("sample.prompts") or project.get("sample.prompt_file"):
        return f"tui-lora compare {project.root}"
    trigger = project.get("project.trigger_word") or ""
    return f"tui-lora compare {project.root} --prompt \"{trigger + ', ' if trigger else ''}smile, looking at viewer\""
