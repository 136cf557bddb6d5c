"""tui-lora status DIR [--follow]"""

from __future__ import annotations

import argparse
import json
import sys
import time

from tui_lora.commands._common import add_project_arg, emit, load_project
from tui_lora.commands._fixes import say, step_words
from tui_lora.core.errors import Notice
from tui_lora.core.humanize import duration

HELP = "show a training run (or a sweep's variants): state, step, loss, ETA"
# The exit code says the state, so a script can wait for a run and act on how it ended (README table).
EXIT_CODES = {"finished": 0, "failed": 1, "stopped": 3, "none": 4, "running": 5}
DESCRIPTION = (
    "Show the project's training: running / stopped / finished / failed / never run, with step, epoch, loss, "
    "speed, ETA and the LoRA files saved, read from logs/events.jsonl and the job's lock. When the project's "
    "latest job is a sweep, every variant: done / running step s/S / queued / stopped / failed. Exit code: "
    "0 finished, 1 failed, 3 stopped, 4 never run, 5 running (with --follow: how the run ended), 2 bad input; "
    "a sweep is finished when every variant is done and failed when the rest failed."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_project_arg(p)
    p.add_argument("--follow", "-f", action="store_true",
                   help="keep printing progress until the training ends (Ctrl-C leaves it running)")


def run(args: argparse.Namespace) -> int:
    from tui_lora.commands._sweep_status import follow_sweep, render_sweep
    from tui_lora.core.sweep.status import latest_is_sweep
    from tui_lora.core import jobs
    from tui_lora.core.sweep import sweep_status

    project = load_project(args)
    said: set[str] = set()
    sweep = sweep_status(project)
    if sweep is not None and latest_is_sweep(project, sweep):
        if args.follow:
            sweep = follow_sweep(project, args)
        status = jobs.job_status(project)
        emit(args, {**status.to_dict(step_words), "job": "sweep", "sweep": sweep.to_dict(step_words)},
             render_sweep(project, sweep))
        return EXIT_CODES[sweep.state]
    if args.follow:
        said = _follow(project, args)
    status = jobs.job_status(project)
    emit(args, {**status.to_dict(step_words), "job": "train"}, render(project, status, said=said))
    return EXIT_CODES[status.state]


def _progress(s) -> str:
    parts = [f"epoch {s.epoch}/{s.epochs}", f"step {s.step}/{s.total_steps}"]
    if s.loss is not None:
        parts.append(f"loss {s.loss:.4f}" + (f" (avg {s.avg_loss:.4f})" if s.avg_loss is not None else ""))
    if s.it_per_s:
        parts.append(f"{s.it_per_s:.2f} it/s")
    return "  ".join(parts)


def render(project, status, *, said: set[str] = frozenset()) -> list[str]:
    """The status in lines; ``said``: sentences --follow has printed already (each fact once)."""
    s = status.summary
    root = project.root
    if status.state == "none":
        return [f"never run: start it with `tui-lora train {root}` (or --detach to run it in the background)"]
    lines = []
    if status.state == "running":
        how = "in the background" if status.detached else "in a terminal"
        lines.append(f"running {how} (pid {status.pid}) on {s.device or '…'}")
        if s.total_steps:
            lines.append(_progress(s) + (f"  ETA {duration(s.eta_s)}" if s.eta_s is not None else ""))
        else:
            lines.append("starting (loading the model, caching latents)")
    elif status.state == "finished":
        if "done" not in said:
            lines.append(f"finished: {s.step} steps; LoRA: {s.final_path}")
    else:
        notice = status.message or s.error
        message = say(notice) if notice else ""
        lines.append(status.state + (f": {message}" if message and message not in said else ""))
        if s.total_steps:
            lines.append(_progress(s))
    if status.files:
        names = [_file_label(f) for f in status.files]
        lines.append("saved: " + ", ".join(names[-5:]) + (f" (+{len(names) - 5} more)" if len(names) > 5 else ""))
    return lines


def _file_label(path: str) -> str:
    from tui_lora.core.outputs import stop_save_step

    step = stop_save_step(path)
    return f"{path} (stopped at step {step})" if step is not None else path


def _follow(project, args) -> set[str]:
    """Print the run's events until it ends; returns the sentences said (and "done" once it finished)."""
    from tui_lora.core import jobs

    said: set[str] = set()
    last_print = 0.0
    try:
        for ev in jobs.follow(project):
            if args.json:
                print(json.dumps(ev), flush=True)
                continue
            kind = ev["event"]
            if kind == "step":
                now = time.monotonic()
                if now - last_print < 2.0:
                    continue
                last_print = now
                eta = f"  ETA {duration(ev.get('eta_s'))}" if ev.get("eta_s") is not None else ""
                loss = f"  loss {ev['loss']:.4f}" if isinstance(ev.get("loss"), (int, float)) else ""
                print(f"epoch {ev['epoch']}  step {ev['step']}{loss}{eta}", flush=True)
            elif kind == "start":
                print(f"start: {ev['total_steps']} steps in {ev['epochs']} epochs on {ev['device']}", flush=True)
            elif kind in ("save", "sample"):
                print(f"{kind}: {ev['path']}", flush=True)
            elif kind in ("warning", "error"):
                sentence = say(Notice.from_dict(ev))
                said.add(sentence)
                print(f"{kind}: {sentence}", flush=True)
            elif kind == "done":
                said.add("done")
                print(f"finished: {ev['steps']} steps; LoRA: {ev['path']}", flush=True)
    except KeyboardInterrupt:
        print("", file=sys.stderr)  # leave the training running; show its status below
        said.clear()  # the run goes on: the status below says where it is
    return said
