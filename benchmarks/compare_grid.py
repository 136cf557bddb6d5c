"""Comparison grid speed: tui-lora's renderer vs plain diffusers doing the same cells, and batched vs
one pipeline call per picture.

Both render the same prompt, seed, size, steps and sampler (Euler a) with the same kohya LoRA file
applied through ``load_lora_weights`` + ``set_adapters``. The baseline is what a user would script:
``StableDiffusionPipeline.from_pretrained`` and ``pipe(prompt=…, negative_prompt=…)``. Ours is
:class:`tui_lora.core.compare.ComparePipeline` (the trainer's model loader, the trainer's prompt
encoding, a VAE decode in its own dtype) and, for the whole grid, :func:`run_compare` (every cell,
the labelled PNG and its JSON index). Goal: no more than 10 % slower per cell than the baseline.

Batched (issue 17): a grid of 2 prompts × 2 seeds × 3 weights (+ no LoRA) for one LoRA file rendered by
``run_compare`` with the prompts × seeds of each cell in one pipeline call, against the same grid with
one call per picture (``max_batch=1``). Goal: ≥ 1.5× faster on the CPU tiny model.

    python benchmarks/compare_grid.py                        # tiny SD1.5 + SDXL on the CPU
    python benchmarks/compare_grid.py --only batched         # just the batched vs one-per-picture table
    python benchmarks/compare_grid.py --real-size --device cuda   # real architectures, 512 / 1024 px
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

_REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(_REPO), str(_REPO / "tests")]  # tests/support: helpers shared with the test suite


def sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def timed(fn, device: str) -> float:
    sync(device)
    t0 = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - t0


def run_case(family: str, model: Path, work: Path, *, size: int, steps: int, rounds: int, device: str) -> dict:
    import torch
    from diffusers import EulerAncestralDiscreteScheduler, StableDiffusionPipeline, StableDiffusionXLPipeline

    from tui_lora.core.compare import ComparePipeline, plan_compare, run_compare
    from tui_lora.core.sample_prompts import SamplePrompt
    from support.lora_files import make_lora_files

    settings = {"dataset.resolution": size, "dataset.max_bucket_reso": max(size, 256), "training.clip_skip": 1,
                "network.network_dim": 8, "network.network_alpha": 4.0}
    if family == "sdxl":
        settings["dataset.min_bucket_reso"] = min(size, 256)
    project = make_lora_files(work / f"{family}-p", model, family, epochs=(1,), final=2, strength=0.05,
                              settings=settings, device=device)
    lora = project.epoch_file(1)
    sp = SamplePrompt("ohwx, 1girl, red hair, smile", negative="lowres", width=size, height=size, steps=steps,
                      cfg=7.0, seed=1, sampler="euler_a")

    ours = ComparePipeline.load(project, device=device)
    dtype = torch.float16 if device.startswith("cuda") else torch.float32
    cls = StableDiffusionXLPipeline if family == "sdxl" else StableDiffusionPipeline
    extra = {} if family == "sdxl" else {"safety_checker": None, "requires_safety_checker": False}
    bare = cls.from_pretrained(model, dtype=dtype, **extra).to(device)
    bare.set_progress_bar_config(disable=True)
    bare.scheduler = EulerAncestralDiscreteScheduler.from_config(bare.scheduler.config)

    def bare_cell():
        bare.set_adapters(["a"], adapter_weights=[0.8])
        bare(prompt=sp.prompt, negative_prompt=sp.negative, width=size, height=size, num_inference_steps=steps,
             guidance_scale=sp.cfg, generator=torch.Generator("cpu").manual_seed(sp.seed))

    def our_cell():
        ours.use_lora(lora, 0.8)
        ours.render(sp)

    load_bare = timed(lambda: bare.load_lora_weights(str(lora), adapter_name="a"), device)
    load_ours = timed(lambda: ours.use_lora(lora, 0.8), device)
    bare_cell(), our_cell()  # warm-up
    b, o = [], []
    for _ in range(rounds):  # interleaved, so a busy machine slows both alike
        b.append(timed(bare_cell, device))
        o.append(timed(our_cell, device))
    ours.use_lora(None)
    plan = plan_compare(project, sp, epochs=[1, "final"], weights=[0.6, 0.8, 1.0], out=work / f"{family}-grid.png")
    grid = timed(lambda: run_compare(project, plan, pipeline=ours), device)
    return {"family": family, "size": size, "steps": steps, "bare": statistics.median(b), "ours": statistics.median(o),
            "load_bare": load_bare, "load_ours": load_ours, "grid": grid, "cells": plan.total_cells}


def batched_case(family: str, model: Path, work: Path, *, size: int, steps: int, rounds: int, device: str) -> dict:
    """The same 2 prompts × 2 seeds × 3 weights grid, batched and one call per picture, interleaved."""
    from dataclasses import replace

    from tui_lora.core.compare import ComparePipeline, plan_compare, run_compare
    from tui_lora.core.sample_prompts import SamplePrompt
    from support.lora_files import make_lora_files

    settings = {"dataset.resolution": size, "dataset.max_bucket_reso": max(size, 256), "training.clip_skip": 1,
                "network.network_dim": 8, "network.network_alpha": 4.0}
    if family == "sdxl":
        settings["dataset.min_bucket_reso"] = min(size, 256)
    project = make_lora_files(work / f"{family}-b", model, family, epochs=(1,), final=2, strength=0.05,
                              settings=settings, device=device)
    prompts = [SamplePrompt(text, negative="lowres", width=size, height=size, steps=steps, cfg=7.0, sampler="euler_a")
               for text in ("ohwx, 1girl, red hair, smile", "ohwx, 1girl, standing, full body")]
    ours = ComparePipeline.load(project, device=device)
    plan = plan_compare(project, prompts, epochs=[1], weights=[0.6, 0.8, 1.0], seeds=[1, 2], sheet="combined",
                        out=work / f"{family}-batched.png")
    single = replace(plan, max_batch=1, grid_path=work / f"{family}-single.png",
                     index_path=work / f"{family}-single.json")
    run_compare(project, replace(plan, grid_path=work / "warm.png", index_path=work / "warm.json"), pipeline=ours)
    batched_s, single_s = [], []
    for _ in range(rounds):  # interleaved, so a busy machine slows both alike
        batched_s.append(timed(lambda: run_compare(project, plan, pipeline=ours), device))
        single_s.append(timed(lambda: run_compare(project, single, pipeline=ours), device))
    return {"family": family, "size": size, "steps": steps, "pictures": plan.total_cells,
            "batched": statistics.median(batched_s), "single": statistics.median(single_s)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--real-size", action="store_true", help="real SD1.5 / SDXL architectures (random weights)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1, help="CPU threads (tiny models run best on one)")
    ap.add_argument("--only", choices=("cells", "batched"), help="run one of the two tables")
    args = ap.parse_args()

    import torch

    from tui_lora.demo.tiny_models import build_tiny_sd15, build_tiny_sdxl

    torch.set_num_threads(args.threads)
    rows, batched = [], []
    with tempfile.TemporaryDirectory(prefix="tui-lora-bench-") as tmp:
        work = Path(tmp)
        for family, build, real in (("sd15", build_tiny_sd15, 512), ("sdxl", build_tiny_sdxl, 1024)):
            model = build(work / f"{family}-model", real_size=args.real_size)
            size = real if args.real_size else 64
            if args.only != "batched":
                rows.append(run_case(family, model, work, size=size, steps=args.steps, rounds=args.rounds,
                                     device=args.device))
            if args.only != "cells":
                batched.append(batched_case(family, model, work, size=size, steps=args.steps, rounds=args.rounds,
                                            device=args.device))
    where = torch.cuda.get_device_name(0) if args.device.startswith("cuda") else f"CPU, {args.threads} thread(s)"
    kind = "real-size architectures (random weights)" if args.real_size else "tiny models"
    print(f"{where}, {kind}, Euler a, {args.steps} steps, CFG 7, median of {args.rounds} interleaved rounds\n")
    if rows:
        print("| model | diffusers s/cell | tui-lora s/cell | ratio | LoRA load diffusers / ours s | "
              "whole grid (cells) s |")
        print("|---|---:|---:|---:|---:|---:|")
        for r in rows:
            print(f"| {r['family']} {r['size']} px | {r['bare']:.3f} | {r['ours']:.3f} | "
                  f"{r['ours'] / r['bare']:.2f}x | {r['load_bare']:.2f} / {r['load_ours']:.2f} | "
                  f"{r['grid']:.1f} ({r['cells']}) |")
        print()
    if batched:
        print("| model | grid: 2 prompts × 2 seeds × 3 weights + no LoRA | one call per picture s | batched s | "
              "speed-up |")
        print("|---|---:|---:|---:|---:|")
        for r in batched:
            print(f"| {r['family']} {r['size']} px | {r['pictures']} pictures | {r['single']:.2f} | "
                  f"{r['batched']:.2f} | {r['single'] / r['batched']:.2f}x |")


if __name__ == "__main__":
    main()
