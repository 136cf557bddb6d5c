"""How `tui-lora status` and `tui-lora stop` show a sweep: one line per variant."""

from __future__ import annotations

import argparse
import json
import sys
import time

from tui_lora.commands._fixes import say, step_words
from tui_lora.core.sweep import SweepStatus, sweep_status


def _loss(v) -> str:
    return f"loss {v.loss:.4f}" if v.loss is not None else ""


def render_sweep(project, sweep: SweepStatus) -> list[str]:
    n = f"{len(sweep.variants)} variant" + ("" if len(sweep.variants) == 1 else "s")
    counts = ", ".join(f"{sweep.count(s)} {s}" for s in ("done", "running", "queued", "stopped", "failed")
                       if sweep.count(s))
    if sweep.running:
        how = "in the background" if sweep.detached else "in a terminal"
        head = f"sweep running {how} (pid {sweep.pid}): {n}, {counts}"
    else:
        head = f"sweep {sweep.state}: {n}, {counts}"
    width = max(len(v.label) for v in sweep.variants) if sweep.variants else 0
    lines = [head]
    for v in sweep.variants:
        what = v.progress + (f": {say(v.message)}" if v.message else "")
        lines.append(f"  {v.label:<{width}}  {what}" + (f"  {_loss(v)}" if _loss(v) and v.state != "queued" else ""))
    root = project.root
    if sweep.state == "stopped":
        lines.append(f"continue with `tui-lora sweep {root} --resume`")
    elif sweep.state in ("finished", "failed") and sweep.count("done"):
        lines.append(f"compare the variants with `tui-lora compare {root} --sweep`")
    return lines


def follow_sweep(project, args: argparse.Namespace, interval: float = 2.0) -> SweepStatus:
    """Print each variant's progress as it changes until the sweep ends (Ctrl-C leaves it running)."""
    last: dict[str, str] = {}
    status = sweep_status(project)
    try:
        while status is not None:
            for v in status.variants:
                line = f"{v.label}: {v.progress}" + (f"  {_loss(v)}" if _loss(v) else "")
                if last.get(v.label) != line:
                    last[v.label] = line
                    print(json.dumps(v.to_dict(step_words)) if args.json else line, flush=True)
            if not status.running:
                break
            time.sleep(interval)
            status = sweep_status(project)
    except KeyboardInterrupt:
        print("", file=sys.stderr)
    return status if status is not None else sweep_status(project)
