"""Issue #4, item 6, on a CUDA GPU: the guards on real CUDA and the planner's VRAM estimate vs measured peaks.

    python benchmarks/jobs_cuda.py --device cuda            # everything below, tables for RESULTS.md
    python benchmarks/jobs_cuda.py --device cuda --only vram
    python benchmarks/jobs_cuda.py --smoke                   # the same plumbing on tiny models, CPU

1. ``speed``: the trainer's real-size benchmark (benchmarks/train_step.py) for fp16 and bf16.
2. ``nan``: a run that diverges (weight_decay=1e5 multiplies the weights by -49 a step) in fp16
   (with the grad scaler) and in bf16 must stop with the NaN sentence, and every file it saved must
   be finite and load in diffusers.
3. ``oom``: real-size SDXL with settings far beyond the card (batch 16 at 1024 px, no gradient
   checkpointing, AdamW, fp32) must end with the planner's advice, not a traceback.
4. ``vram``: peak ``torch.cuda.max_memory_reserved`` of real training steps on the real SD1.5 / SDXL
   architectures (random weights) for a grid of settings, next to ``plan.estimate_vram``; the ratio
   column is what to calibrate ``_ACT_GB`` / overheads in tui_lora/core/plan.py with.
"""

from __future__ import annotations

import argparse
import gc
import io
import sys
import tempfile
import time
from pathlib import Path

_REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(_REPO), str(_REPO / "tests")]  # tests/support: helpers shared with the test suite


def _free() -> None:
    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
    except ImportError:
        pass


def project(root: Path, model: Path, family: str, settings: dict, images: int = 4):
    from support.train import make_train_project

    size = (settings.get("dataset.resolution", 64),) * 2
    return make_train_project(root, model, family=family, images=images, size=size, settings=settings)


def speed(args, work: Path) -> None:
    import subprocess

    for mp in ("fp16", "bf16"):
        print(f"\n### speed, {mp}\n", flush=True)
        cmd = [sys.executable, str(Path(__file__).with_name("train_step.py")), "--steps", str(args.steps),
               "--rounds", "3"]
        if not args.smoke:
            cmd += ["--real-size", "--overhead", "--device", args.device, "--mixed-precision", mp]
        subprocess.run(cmd, check=False)


def nan(args, work: Path, models: dict) -> None:
    import torch
    from safetensors.torch import load_file

    from tui_lora.core.errors import OperationFailed
    from tui_lora.core.train.run import train_project

    print("\n### NaN guard\n")
    print("| precision | stopped with | files saved | all finite | loads in diffusers |")
    print("|---|---|---:|---|---|")
    for mp in ("no",) if args.smoke else ("fp16", "bf16"):
        p = project(work / f"nan-{mp}", models["sd15"], "sd15", {
            "training.train_batch_size": 1, "training.max_train_epochs": 10, "training.lr_scheduler": "constant",
            "training.optimizer_args": ["weight_decay=1e5"], "training.mixed_precision": mp}, images=1)
        try:
            train_project(p, stream=io.StringIO(), device=args.device)
            outcome = "NOT STOPPED"
        except OperationFailed as exc:
            outcome = exc.message[:90] + "…"
        files = sorted(p.output_dir.glob("*.safetensors"))
        finite = all(bool(torch.isfinite(t.float()).all()) for f in files for t in load_file(str(f)).values())
        loads = "n/a"
        if files:
            from diffusers import StableDiffusionPipeline

            pipe = StableDiffusionPipeline.from_pretrained(models["sd15"])
            pipe.load_lora_weights(str(files[-1]))
            loads = "yes"
            del pipe
        print(f"| {mp} | {outcome} | {len(files)} | {finite} | {loads} |", flush=True)
        _free()


def oom(args, work: Path, models: dict) -> None:
    from tui_lora.core.errors import OperationFailed
    from tui_lora.core.train.run import train_project

    print("\n### out of memory\n")
    p = project(work / "oom", models["sdxl"], "sdxl", {
        "training.train_batch_size": 16, "training.gradient_checkpointing": False, "training.optimizer_type": "AdamW",
        "training.mixed_precision": "no", "dataset.resolution": 1024 if not args.smoke else 64,
        "network.network_dim": 64, "training.max_train_epochs": 1}, images=16)
    t0 = time.time()
    try:
        train_project(p, stream=io.StringIO(), device=args.device)
        print("trained without running out of memory (a bigger card than the settings need)")
    except OperationFailed as exc:
        print(f"after {time.time() - t0:.0f} s: {exc.message}")
    _free()


VRAM_GRID = [
    # family, resolution, batch, dim, gradient checkpointing, optimizer, mixed precision, train TE
    ("sd15", 512, 1, 16, True, "AdamW8bit", "fp16", False),
    ("sd15", 512, 1, 32, False, "AdamW", "fp16", True),
    ("sd15", 512, 4, 32, True, "AdamW8bit", "bf16", True),
    ("sd15", 768, 2, 64, False, "AdamW", "bf16", False),
    ("sdxl", 1024, 1, 8, True, "AdamW8bit", "bf16", False),
    ("sdxl", 1024, 1, 32, True, "AdamW", "bf16", True),
    ("sdxl", 1024, 2, 16, False, "AdamW8bit", "bf16", False),
    ("sdxl", 1024, 4, 16, True, "AdamW8bit", "fp16", False),
]


def vram(args, work: Path, models: dict) -> None:
    import torch

    from tui_lora.core.plan import estimate_vram
    from tui_lora.core.train.run import make_reporter
    from tui_lora.core.train.trainer import Trainer

    print("\n### VRAM: planner estimate vs measured peak (reserved)\n")
    print("| family | res | batch | dim | grad. ckpt | optimizer | precision | TE | estimate GB | measured GB | "
          "measured / estimate |")
    print("|---|---:|---:|---:|---|---|---|---|---:|---:|---:|")
    for i, (fam, res, batch, dim, gc_on, opt, mp, te) in enumerate(VRAM_GRID):
        if args.smoke:
            res, mp = 64, "no"
        settings = {"dataset.resolution": res, "dataset.min_bucket_reso": min(256, res),
                    "dataset.max_bucket_reso": max(1024, res), "training.train_batch_size": batch,
                    "network.network_dim": dim, "network.network_alpha": dim / 2,
                    "training.gradient_checkpointing": gc_on, "training.optimizer_type": opt,
                    "training.mixed_precision": mp, "network.network_train_unet_only": not te,
                    "training.text_encoder_lr": 1e-4 if te else 0.0, "network.network_type": "lora",
                    "training.max_train_epochs": 0, "training.max_train_steps": 1000,
                    "output.save_every_n_epochs": 0}
        p = project(work / f"vram-{i}", models[fam], fam, settings, images=max(4, batch))
        est = estimate_vram(family=fam, resolution=res, batch_size=batch, network_dim=dim, mixed_precision=mp,
                            gradient_checkpointing=gc_on, optimizer=opt, train_text_encoder=te, cache_latents=True)
        _free()
        measured = float("nan")
        try:
            trainer = Trainer.create(p, p.effective_settings(), make_reporter(p, stream=io.StringIO()),
                                     device=args.device)
            trainer.fit(until_step=args.steps)
            if torch.cuda.is_available():
                measured = torch.cuda.max_memory_reserved() / 2**30
            del trainer
        except Exception as exc:  # noqa: BLE001 - one row failing (OOM on a small card) is a result too
            measured_note = type(exc).__name__
            print(f"| {fam} | {res} | {batch} | {dim} | {gc_on} | {opt} | {mp} | {te} | {est.total_gb:.1f} | "
                  f"{measured_note} | |", flush=True)
            _free()
            continue
        ratio = measured / est.total_gb if est.total_gb else float("nan")
        print(f"| {fam} | {res} | {batch} | {dim} | {gc_on} | {opt} | {mp} | {te} | {est.total_gb:.1f} | "
              f"{measured:.1f} | {ratio:.2f} |", flush=True)
        _free()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda")
    p.add_argument("--only", choices=("speed", "nan", "oom", "vram"), action="append")
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--smoke", action="store_true", help="tiny models on the CPU: checks the script, measures nothing")
    args = p.parse_args()
    if args.smoke:
        args.device = "cpu"
    import diffusers
    import torch
    import transformers

    diffusers.utils.logging.set_verbosity_error()
    transformers.utils.logging.set_verbosity_error()
    if not args.smoke and not torch.cuda.is_available():
        p.error("no CUDA GPU here; run with --smoke to check the script on the CPU")
    from tui_lora.demo.tiny_models import build_tiny_sd15, build_tiny_sdxl

    parts = args.only or ["speed", "nan", "oom", "vram"]
    with tempfile.TemporaryDirectory(prefix="tui-lora-jobs-cuda-") as tmp:
        work = Path(tmp)
        if torch.cuda.is_available():
            print(f"{torch.cuda.get_device_name(0)}, {torch.cuda.get_device_properties(0).total_memory / 2**30:.0f} GiB, "
                  f"torch {torch.__version__}")
        models = {"sd15": build_tiny_sd15(work / "sd15", real_size=not args.smoke),
                  "sdxl": build_tiny_sdxl(work / "sdxl", real_size=not args.smoke)}
        if "speed" in parts:
            speed(args, work)
        if "nan" in parts:
            nan(args, work, {"sd15": build_tiny_sd15(work / "tiny-sd15")})
        if "oom" in parts:
            oom(args, work, models)
        if "vram" in parts:
            vram(args, work, models)


if __name__ == "__main__":
    main()
