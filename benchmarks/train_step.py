"""Training step speed: tui-lora's trainer vs a bare PyTorch loop, and each speed lever on vs off.

Overhead (``--overhead``, the default on the CPU): both train the same model with the same LoRA (peft,
kohya's targets) on the same batch. The bare loop does only forward + backward + optimizer step on
precomputed latents and text embeddings; the trainer row runs tui-lora's real loop (batch assembly
from the epoch plan, cached latents, noise, loss, scheduler, events, progress) with the text-encoder
outputs cached and gradient clipping / Min-SNR off, so both do the same maths. Goal: overhead <= 10 %.

Levers (``--real-size --device cuda``, and ``--smoke``): s/step and peak VRAM of the trainer with each
speed lever of [training] on and off, everything else at tui-lora's defaults, in one table with the
ratio off / on (above 1: the lever is faster).

    python benchmarks/train_step.py                                   # overhead, tiny models, CPU
    python benchmarks/train_step.py --real-size --device cuda         # levers, real SD1.5 / SDXL
    python benchmarks/train_step.py --real-size --device cuda --overhead   # overhead, real size
    python benchmarks/train_step.py --smoke                           # levers, tiny models, 3 steps, CPU

``--real-size`` builds random-weights SD1.5 (512 px, batch 1, dim 16, gradient checkpointing,
AdamW8bit, fp16) and SDXL (1024 px, UNet only, dim 8, gradient checkpointing, AdamW8bit, bf16).
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

_REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(_REPO), str(_REPO / "tests")]  # tests/support: helpers shared with the test suite


def make_trainer(root: Path, model: Path, family: str, settings: dict, device: str, images: int, size):
    from tui_lora.core.train.run import make_reporter
    from tui_lora.core.train.trainer import Trainer
    from support.train import make_train_project

    project = make_train_project(root, model, family=family, images=images, size=size, settings=settings)
    trainer = Trainer.create(project, project.effective_settings(), make_reporter(project, stream=io.StringIO()),
                             device=device)
    return trainer


class BareLoop:
    """The same UNet + LoRA, trained on one fixed batch with nothing around it."""

    def __init__(self, trainer, model: Path, device: str) -> None:
        import torch
        from diffusers import UNet2DConditionModel

        from tui_lora.core.train.kohya_names import unet_namer
        from tui_lora.core.train.network import NetworkSpec, collect_modules, inject, lora_parameters, unet_targets

        s = trainer.s
        self.dtype = s.weight_dtype
        self.unet = UNet2DConditionModel.from_pretrained(model, subfolder="unet", torch_dtype=self.dtype).to(device)
        self.unet.requires_grad_(False)
        spec = NetworkSpec.from_settings(s.settings["network"])
        targets = unet_targets(self.unet, spec)
        inject(self.unet, targets)
        mods = collect_modules(self.unet, "unet", targets, unet_namer(s.family, dict(self.unet.config)))
        self.params = lora_parameters(mods)
        for p in self.params:
            p.data = p.data.float()
            p.requires_grad_(True)
        if s.t["gradient_checkpointing"]:
            self.unet.enable_gradient_checkpointing()
        self.unet.train()
        group = s.optimizer.param_groups[0]  # the trainer's step kernel (fused / foreach), so both do the same work
        kernel = {k: group[k] for k in ("fused", "foreach") if group.get(k) is not None}
        self.opt = type(s.optimizer.optimizer)(self.params, lr=s.t["unet_lr"], **kernel)
        self.sched = s.noise_scheduler
        batch = s.layout.epoch_batches(s.global_batch, s.seed, 0)[0]
        self.latents = torch.stack([s.latent_cache.get(i) for i in batch]).to(device) * s.scaling_factor
        caps = [s.captions[i] for i in batch]
        self.hidden = torch.stack([s.te_cache[c][0] for c in caps]).to(device, self.dtype)
        self.kwargs = {}
        if s.family == "sdxl":
            from tui_lora.core.train.data import BatchItem, sdxl_time_ids

            pooled = torch.stack([s.te_cache[c][1] for c in caps]).to(device, self.dtype)
            ids = sdxl_time_ids(s.layout, [BatchItem(i, "", False) for i in batch]).to(device, self.dtype)
            self.kwargs = {"added_cond_kwargs": {"text_embeds": pooled, "time_ids": ids}}
        self.autocast = s.accelerator.autocast
        self.scaler = torch.amp.GradScaler() if self.dtype == torch.float16 else None

    def step(self) -> None:
        import torch
        import torch.nn.functional as F

        noise = torch.randn_like(self.latents)
        t = torch.randint(0, 1000, (self.latents.shape[0],), device=self.latents.device)
        noisy = self.sched.add_noise(self.latents, noise, t)
        with self.autocast():
            pred = self.unet(noisy.to(self.dtype), t, self.hidden, **self.kwargs).sample
        loss = F.mse_loss(pred.float(), noise.float())
        if self.scaler:
            self.scaler.scale(loss).backward()
            self.scaler.step(self.opt)
            self.scaler.update()
        else:
            loss.backward()
            self.opt.step()
        self.opt.zero_grad(set_to_none=True)


def sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def time_trainer(trainer, steps: int, device: str) -> float:
    start = trainer.state.global_step
    sync(device)
    t0 = time.perf_counter()
    trainer.fit(until_step=start + steps)
    sync(device)
    return (time.perf_counter() - t0) / steps


def time_bare(bare: BareLoop, steps: int, device: str) -> float:
    sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        bare.step()
    sync(device)
    return (time.perf_counter() - t0) / steps


def compare(name: str, model: Path, family: str, settings: dict, *, device: str, images: int, size, steps: int,
            rounds: int, warmup: int, workdir: Path) -> dict:
    common = {"dataset.cache_text_encoder_outputs": True, "dataset.shuffle_caption": False,
              "dataset.caption_dropout_rate": 0.0, "network.network_train_unet_only": True,
              "training.max_grad_norm": 0.0, "training.min_snr_gamma": 0.0, "training.noise_offset": 0.0,
              "training.max_train_epochs": 0, "training.max_train_steps": 100_000,
              "training.lr_scheduler": "constant", "output.save_every_n_epochs": 0, **settings}
    trainer = make_trainer(workdir / f"{name}-p", model, family, common, device, images, size)
    peak = None
    if device.startswith("cuda"):
        import torch

        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    time_trainer(trainer, warmup, device)
    if device.startswith("cuda"):
        peak = torch.cuda.max_memory_allocated() / 2**30  # training steps only, before the bare loop loads
    bare = BareLoop(trainer, model, device)
    time_bare(bare, warmup, device)
    ours, base = [], []
    for _ in range(rounds):  # interleaved, so a busy machine slows both alike
        base.append(time_bare(bare, steps, device))
        ours.append(time_trainer(trainer, steps, device))
    return {"name": name, "bare": statistics.median(base), "ours": statistics.median(ours), "peak": peak}


def cpu_table(args) -> None:
    import torch

    from tui_lora.demo.tiny_models import build_tiny_sd15, build_tiny_sdxl

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="tui-lora-bench-") as tmp:
        work = Path(tmp)
        rows = []
        fast = {"dataset.resolution": 128, "dataset.max_bucket_reso": 256, "training.train_batch_size": 2,
                "network.network_dim": 8, "network.network_alpha": 4.0, "training.optimizer_type": "AdamW"}
        for family, build in (("sd15", build_tiny_sd15), ("sdxl", build_tiny_sdxl)):
            model = build(work / f"tiny-{family}")
            rows.append(compare(f"tiny {family} 128 px, batch 2, LoRA dim 8, AdamW, fp32", model, family, fast,
                                device="cpu", images=4, size=(128, 128), steps=args.steps, rounds=args.rounds,
                                warmup=3, workdir=work))
    print(f"CPU, {args.threads} thread(s), {args.rounds} interleaved rounds of {args.steps} steps, median ms/step\n")
    print("| model | bare loop ms/step | tui-lora ms/step | overhead |")
    print("|---|---:|---:|---:|")
    for r in rows:
        print(f"| {r['name']} | {r['bare'] * 1000:.1f} | {r['ours'] * 1000:.1f} | {(r['ours'] / r['bare'] - 1) * 100:+.1f} % |")


# The real-size cases: the settings of benchmarks/RESULTS.md's GPU rows (and of peer_gpu.sh's runs).
REAL_CASES = {
    "sd15": (512, {"training.train_batch_size": 1, "network.network_dim": 16, "network.network_alpha": 8.0,
                   "training.gradient_checkpointing": True, "training.optimizer_type": "AdamW8bit",
                   "training.mixed_precision": "fp16", "dataset.resolution": 512, "dataset.max_bucket_reso": 1024}),
    "sdxl": (1024, {"training.train_batch_size": 1, "network.network_dim": 8, "network.network_alpha": 4.0,
                    "training.gradient_checkpointing": True, "training.optimizer_type": "AdamW8bit",
                    "training.mixed_precision": "bf16", "dataset.resolution": 1024, "dataset.min_bucket_reso": 512,
                    "dataset.max_bucket_reso": 2048}),
}


def builders():
    from tui_lora.demo.tiny_models import build_tiny_sd15, build_tiny_sdxl

    return {"sd15": build_tiny_sd15, "sdxl": build_tiny_sdxl}


def gpu_table(args) -> None:
    import torch

    with tempfile.TemporaryDirectory(prefix="tui-lora-bench-") as tmp:
        work = Path(tmp)
        print(f"{torch.cuda.get_device_name(0)}, real-size architectures (random weights), median of "
              f"{args.rounds} rounds of {args.steps} steps\n")
        print("| model | bare loop it/s | tui-lora it/s | overhead | peak VRAM (trainer) |")
        print("|---|---:|---:|---:|---:|")
        for family, (res, settings) in REAL_CASES.items():
            if args.mixed_precision:  # the same case in another precision (benchmarks/jobs_cuda.py runs both)
                settings = {**settings, "training.mixed_precision": args.mixed_precision}
            model = builders()[family](work / f"real-{family}", real_size=True)
            r = compare(f"{family} {res} px", model, family, settings, device=args.device, images=4,
                        size=(res, res), steps=args.steps, rounds=args.rounds, warmup=3, workdir=work)
            peak = r["peak"]
            print(f"| {r['name']}, batch 1, {'dim 16' if family == 'sd15' else 'dim 8, UNet only'}, "
                  f"grad. checkpointing, AdamW8bit, {settings['training.mixed_precision']} | {1 / r['bare']:.2f} | {1 / r['ours']:.2f} | "
                  f"{(r['ours'] / r['bare'] - 1) * 100:+.1f} % | {peak:.2f} GiB |", flush=True)
            import gc

            del r
            gc.collect()
            torch.cuda.empty_cache()


# ----- the levers ---------------------------------------------------------------------------------
# (--lever name, row, settings with the lever on, with it off); the rest of a run is the case at
# tui-lora's defaults.
# "losses read" is not a setting: the trainer's PendingLosses.seconds (0 reads every step; 1.0 is
# hostsync.READ_SECONDS, CUDA's default).
LEVERS = [
    ("tf32", "TF32 (allow_tf32)", {"training.allow_tf32": True}, {"training.allow_tf32": False}),
    ("fused", "fused AdamW step (fused_optimizer; AdamW on both sides)",
     {"training.fused_optimizer": True, "training.optimizer_type": "AdamW"},
     {"training.fused_optimizer": False, "training.optimizer_type": "AdamW"}),
    ("reads", "losses read about once a second, not every step", {"read_seconds": 1.0}, {"read_seconds": 0.0}),
    ("channels_last", "channels_last", {"training.channels_last": True}, {"training.channels_last": False}),
    ("compile", "torch_compile = blocks", {"training.torch_compile": "blocks"}, {"training.torch_compile": "off"}),
    ("te_cache", "text-encoder outputs cached", {"dataset.cache_text_encoder_outputs": True},
     {"dataset.cache_text_encoder_outputs": False}),
    ("low_vram", "low_vram (fp8 base weights, checkpointing, AdamW8bit)", {"training.low_vram": True},
     {"training.low_vram": False}),
]


def lever_run(settings: dict, *, model: Path, family: str, device: str, size, steps: int, warmup: int,
              workdir: Path, name: str) -> dict:
    """s/step and peak memory of the trainer with ``settings`` (measured after setup: training steps only)."""
    import gc

    import torch

    settings = dict(settings)
    read = settings.pop("read_seconds", None)
    common = {"dataset.shuffle_caption": False, "dataset.caption_dropout_rate": 0.0,
              "network.network_train_unet_only": True, "training.max_train_epochs": 0,
              "training.max_train_steps": 100_000, "training.lr_scheduler": "constant",
              "output.save_every_n_epochs": 0, **settings}
    trainer = make_trainer(workdir / name, model, family, common, device, 2, size)
    if read is not None:
        trainer.pending.seconds = read
    cuda = device.startswith("cuda")
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    time_trainer(trainer, warmup, device)  # compiles, cuDNN autotuning, allocator warm-up
    per_step = time_trainer(trainer, steps, device)
    peak = torch.cuda.max_memory_allocated() / 2**30 if cuda else None
    del trainer
    if cuda:  # the next run starts with an empty GPU
        gc.collect()
        torch.cuda.empty_cache()
    return {"s": per_step, "peak": peak}


def levers_table(cases: dict, *, device: str, steps: int, warmup: int, workdir: Path, build_kw: dict,
                 skip: dict[str, str] | None = None, models: dict[str, Path] | None = None,
                 only: list[str] | None = None) -> list[str]:
    """The lever table's rows, one per (family, lever); equal runs are measured once. ``models``:
    diffusers folders already built, by family (else they are built here); ``only``: lever names."""
    skip = skip or {}
    rows = []
    for family, (res, base) in cases.items():
        model = (models or {}).get(family) or builders()[family](workdir / f"model-{family}", **build_kw)
        runs: dict[str, dict] = {}  # settings → result: the base run serves several rows
        for name, label, on, off in LEVERS:
            if only and name not in only:
                continue
            if name in skip:
                rows.append(f"| {family} {res} px | {label} | – | – | {skip[name]} | – | – |")
                print(rows[-1], flush=True)
                continue
            a, b = (measured(runs, {**base, **extra}, model=model, family=family, device=device, size=(res, res),
                             steps=steps, warmup=warmup, workdir=workdir) for extra in (off, on))
            rows.append(f"| {family} {res} px | {label} | {a['s']:.3f} | {b['s']:.3f} | {a['s'] / b['s']:.2f} | "
                        f"{_gib(a['peak'])} | {_gib(b['peak'])} |")
            print(rows[-1], flush=True)
    return rows


def measured(runs: dict[str, dict], settings: dict, *, family: str, **kw) -> dict:
    """:func:`lever_run` of ``settings``, once per distinct settings (kept in ``runs``)."""
    key = repr(sorted(settings.items()))
    if key not in runs:
        runs[key] = lever_run(settings, family=family, name=f"{family}-{len(runs)}", **kw)
    return runs[key]


def _gib(peak: float | None) -> str:
    return f"{peak:.2f}" if peak is not None else "–"


TABLE_HEAD = ("| model | lever | off s/step | on s/step | off / on | off peak GiB | on peak GiB |\n"
              "|---|---|---:|---:|---:|---:|---:|")


def gpu_levers(args) -> None:
    import torch

    cases = {f: REAL_CASES[f] for f in args.family}
    if args.mixed_precision:
        cases = {f: (r, {**s, "training.mixed_precision": args.mixed_precision}) for f, (r, s) in cases.items()}
    print(f"{torch.cuda.get_device_name(0)}, torch {torch.__version__}, real-size architectures (random weights), "
          f"{args.steps} timed steps after {args.warmup} warm-up steps; peak = max_memory_allocated over the "
          "training steps. Base: SD1.5 512 px batch 1 dim 16 fp16, SDXL 1024 px batch 1 dim 8 UNet only bf16; "
          "gradient checkpointing, AdamW8bit, cached latents; every other lever at its default.\n")
    print(TABLE_HEAD, flush=True)
    with tempfile.TemporaryDirectory(prefix="tui-lora-bench-") as tmp:
        levers_table(cases, device=args.device, steps=args.steps, warmup=args.warmup, workdir=Path(tmp),
                     build_kw={"real_size": True}, only=args.lever)


def smoke_levers(args) -> None:
    import platform

    import torch

    torch.set_num_threads(args.threads)
    tiny = {"training.train_batch_size": 1, "network.network_dim": 4, "network.network_alpha": 2.0,
            "training.optimizer_type": "AdamW", "training.mixed_precision": "no", "dataset.resolution": 64,
            "dataset.min_bucket_reso": 64, "dataset.max_bucket_reso": 128}
    cases = {f: (64, tiny) for f in args.family}
    print(f"--smoke: tiny random models on the CPU ({platform.machine()}, {torch.get_num_threads()} thread(s), "
          f"torch {torch.__version__}), {args.steps} timed steps after 1 warm-up step: this checks the "
          "plumbing, it measures nothing a GPU user cares about.\n")
    print(TABLE_HEAD, flush=True)
    with tempfile.TemporaryDirectory(prefix="tui-lora-bench-") as tmp:
        levers_table(cases, device="cpu", steps=args.steps, warmup=1, workdir=Path(tmp), build_kw={},
                     skip={"compile": "skipped in --smoke: inductor takes minutes on a CPU"},
                     models=dict(args.model or []), only=args.lever)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--real-size", action="store_true", help="real SD1.5 / SDXL architectures (needs a CUDA GPU)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--smoke", action="store_true", help="the lever table on tiny models, 3 steps, on the CPU")
    p.add_argument("--overhead", action="store_true", help="trainer vs bare loop (the default without --real-size)")
    p.add_argument("--steps", type=int, default=None, help="timed steps (default 10; 3 with --smoke)")
    p.add_argument("--warmup", type=int, default=3, help="warm-up steps before timing (levers)")
    p.add_argument("--rounds", type=int, default=5, help="interleaved rounds (overhead)")
    p.add_argument("--threads", type=int, default=1, help="CPU threads (CPU mode)")
    p.add_argument("--mixed-precision", choices=("fp16", "bf16"), help="override both cases' precision (GPU mode)")
    p.add_argument("--family", choices=("sd15", "sdxl"), action="append", help="only this model (levers; repeatable)")
    p.add_argument("--lever", choices=[name for name, *_ in LEVERS], action="append",
                   help="only this lever's rows (repeatable), e.g. to give compile a run of its own")
    p.add_argument("--model", nargs=2, action="append", metavar=("FAMILY", "DIR"),
                   help="use this tiny model folder for FAMILY instead of building one (--smoke)")
    args = p.parse_args()
    args.family = args.family or ["sd15", "sdxl"]
    args.steps = args.steps or (3 if args.smoke else 10)
    import diffusers
    import transformers

    diffusers.utils.logging.set_verbosity_error()
    transformers.utils.logging.set_verbosity_error()
    if args.smoke:
        smoke_levers(args)
    elif args.real_size:
        if not args.device.startswith("cuda"):
            p.error("--real-size needs --device cuda")
        (gpu_table if args.overhead else gpu_levers)(args)
    else:
        cpu_table(args)


if __name__ == "__main__":
    main()
