"""Run a trainer (tui-lora's CLI or kohya's script) and measure it the same way for both:
seconds per optimizer step and the process's peak GPU memory. Stdlib and torch only, so it runs in
kohya's venv too (benchmarks/peer_gpu.sh).

    python peer_measure.py OUT.json --warmup 5 -- -m tui_lora train DIR --set …
    python peer_measure.py OUT.json --warmup 5 --cwd sd-scripts -- train_network.py --pretrained_model_name_or_path …

Steps are timed on the GPU's own clock: a global optimizer-step hook records a CUDA event after
every step (no host sync added, so a trainer that avoids syncs keeps that advantage), and the
seconds between the event of step ``warmup`` and the last one, over the steps between, is the
s/step. On the CPU the hook reads the wall clock. Peak memory is ``max_memory_allocated`` over the
whole process (caching latents and text-encoder outputs included, for both trainers alike).
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import runpy
import sys
import time


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", help="where the JSON result goes")
    p.add_argument("--warmup", type=int, default=5, help="steps before the timed window")
    p.add_argument("--cwd", help="run the script from this folder (kohya's scripts import their library from it)")
    argv = sys.argv[1:]
    if "--" not in argv or argv.index("--") == len(argv) - 1:
        p.error("give the command after --: '-m MODULE args' or 'SCRIPT args'")
    cut = argv.index("--")
    args, command = p.parse_args(argv[:cut]), argv[cut + 1:]

    import torch

    cuda = torch.cuda.is_available()
    marks: list = []

    def after_step(optimizer, *_):
        if cuda:
            event = torch.cuda.Event(enable_timing=True)
            event.record()
            marks.append(event)
        else:
            marks.append(time.perf_counter())

    from torch.optim.optimizer import register_optimizer_step_post_hook

    register_optimizer_step_post_hook(after_step)  # every optimizer (bitsandbytes' too) calls it

    def report() -> None:
        result = {"steps": len(marks), "warmup": args.warmup, "s_per_step": None, "peak_gib": None,
                  "device": torch.cuda.get_device_name(0) if cuda else "cpu"}
        if cuda:
            torch.cuda.synchronize()
            result["peak_gib"] = torch.cuda.max_memory_allocated() / 2**30
        if len(marks) > args.warmup + 1:
            first, last = marks[args.warmup], marks[-1]
            seconds = first.elapsed_time(last) / 1000 if cuda else last - first
            result["s_per_step"] = seconds / (len(marks) - 1 - args.warmup)
        with open(args.out, "w", encoding="utf-8") as fh:
            json.dump(result, fh)

    atexit.register(report)
    if args.cwd:
        os.chdir(args.cwd)
    if command[0] == "-m":
        sys.argv = [command[1], *command[2:]]
        runpy.run_module(command[1], run_name="__main__", alter_sys=True)
    else:
        script = os.path.abspath(command[0])
        sys.path.insert(0, os.path.dirname(script))
        sys.argv = [script, *command[1:]]
        runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
