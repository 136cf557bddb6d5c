"""tui-lora vs kohya sd-scripts with matched settings: builds the inputs, runs both trainers through
benchmarks/peer_measure.py and prints the table. Driven by benchmarks/peer_gpu.sh (which makes
kohya's venv); runs in tui-lora's own environment.

    python benchmarks/peer_gpu.py --work DIR --kohya-python VENV/bin/python --kohya-dir sd-scripts
    python benchmarks/peer_gpu.py --work DIR --smoke      # tiny models, 3 steps, CPU, no kohya

Both trainers get the same real-size random-weight diffusers folder (the repo's real-config fixture
builder), the same images and captions (kohya reads the project's dataset/<N>_<name>/ folder as its
train_data_dir), resolution, batch, rank, optimizer, precision, gradient checkpointing, cached latents,
SDPA attention, and the same text-encoder caching (SDXL caches, UNet only; kohya cannot cache them
for SD1.5, so the matched SD1.5 run encodes captions every step on both sides, and one more row shows
tui-lora with the cache against the same kohya run).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parent / "tests")]  # tests/support: helpers shared with the test suite

# kohya's tokenizer ids; kohya loads them from --tokenizer_cache_dir/<id with / as _> when present, as
# the slow CLIPTokenizer (vocab.json + merges.txt). The models' tokenizers are the builder's generated
# vocabulary, written again in that form (the second one pads with "!", as SDXL's does).
KOHYA_TOKENIZERS = {"openai/clip-vit-large-patch14": "<|endoftext|>",
                    "laion/CLIP-ViT-bigG-14-laion2B-39B-b160k": "!"}
LR = 1e-4


def cases(mode: str) -> dict[str, dict]:
    """Per family: resolution, steps, warm-up steps, kohya's script, and the shared facts. ``mode``:
    gpu, smoke (tiny models on the CPU), cpu-check (the real architectures at 64 px on the CPU)."""
    if mode != "gpu":
        return {f: {"res": 64, "steps": 3, "warmup": 1, "dim": 4, "alpha": 2.0, "precision": "no",
                    "optimizer": "AdamW", "script": script, "min_bucket": 64, "max_bucket": 128}
                for f, script in (("sd15", "train_network.py"), ("sdxl", "sdxl_train_network.py"))}
    return {
        "sd15": {"res": 512, "steps": 40, "warmup": 8, "dim": 16, "alpha": 8.0, "precision": "fp16",
                 "optimizer": "AdamW8bit", "script": "train_network.py", "min_bucket": 256, "max_bucket": 1024},
        "sdxl": {"res": 1024, "steps": 25, "warmup": 5, "dim": 8, "alpha": 4.0, "precision": "bf16",
                 "optimizer": "AdamW8bit", "script": "sdxl_train_network.py", "min_bucket": 512, "max_bucket": 2048},
    }


def tui_settings(family: str, c: dict, *, te_cache: bool) -> dict:
    """tui-lora's settings for the matched run (kohya's defaults where the presets differ)."""
    return {
        "dataset.resolution": c["res"], "dataset.min_bucket_reso": c["min_bucket"],
        "dataset.max_bucket_reso": c["max_bucket"], "dataset.shuffle_caption": False,
        "dataset.caption_dropout_rate": 0.0, "dataset.flip_aug": False, "dataset.cache_latents": True,
        "dataset.cache_latents_to_disk": False, "dataset.cache_text_encoder_outputs": te_cache,
        "network.network_type": "lora", "network.network_dim": c["dim"], "network.network_alpha": c["alpha"],
        "network.network_train_unet_only": True, "training.unet_lr": LR, "training.text_encoder_lr": 0.0,
        "training.optimizer_type": c["optimizer"], "training.optimizer_args": [], "training.lr_scheduler": "constant",
        "training.lr_warmup_ratio": 0.0, "training.train_batch_size": 1, "training.max_train_epochs": 0,
        "training.max_train_steps": c["steps"], "training.mixed_precision": c["precision"],
        "training.gradient_checkpointing": True, "training.seed": 42, "training.noise_offset": 0.0,
        "training.min_snr_gamma": 0.0, "training.clip_skip": 1, "training.max_token_length": 75,
        "training.max_grad_norm": 1.0, "output.save_every_n_epochs": 0, "output.save_precision": "fp16",
        "sample.sample_every_n_epochs": 0,
    }


def kohya_args(family: str, c: dict, *, model: Path, data: Path, out: Path, tokenizers: Path) -> list[str]:
    args = [
        "--pretrained_model_name_or_path", str(model), "--train_data_dir", str(data), "--output_dir", str(out),
        "--output_name", f"kohya-{family}", "--save_model_as", "safetensors", "--save_precision", "fp16",
        "--tokenizer_cache_dir", str(tokenizers), "--caption_extension", ".txt",
        "--resolution", f"{c['res']},{c['res']}", "--enable_bucket", "--min_bucket_reso", str(c["min_bucket"]),
        "--max_bucket_reso", str(c["max_bucket"]), "--bucket_reso_steps", "64",
        "--network_module", "networks.lora", "--network_dim", str(c["dim"]), "--network_alpha", str(c["alpha"]),
        "--network_train_unet_only", "--learning_rate", str(LR), "--unet_lr", str(LR), "--lr_scheduler", "constant",
        "--optimizer_type", c["optimizer"], "--train_batch_size", "1", "--max_train_steps", str(c["steps"]),
        "--mixed_precision", c["precision"], "--gradient_checkpointing", "--cache_latents", "--sdpa",
        "--seed", "42", "--max_grad_norm", "1.0",  # max_token_length: kohya's default is 75, as set for tui-lora
        "--max_data_loader_n_workers", "1", "--persistent_data_loader_workers",
    ]
    if family == "sdxl":
        args.append("--cache_text_encoder_outputs")
    return args


def prepare(work: Path, family: str, c: dict, real_size: bool, model: Path | None = None) -> tuple[Path, Path]:
    """(model folder, tui-lora project) for ``family``; the model is built once per work folder
    (or given)."""
    from support.train import make_train_project
    from tui_lora.demo.tiny_models import build_tiny_sd15, build_tiny_sdxl, write_tiny_tokenizer

    model = model or work / "models" / family
    if not (model / "model_index.json").is_file():
        print(f"building the {'real-size' if real_size else 'tiny'} {family} model (random weights) …", flush=True)
        shutil.rmtree(model, ignore_errors=True)
        (build_tiny_sdxl if family == "sdxl" else build_tiny_sd15)(model, real_size=real_size)
    for repo, pad in KOHYA_TOKENIZERS.items():
        write_tiny_tokenizer(work / "tokenizers" / repo.replace("/", "_"), pad_token=pad)
    project = work / f"{family}-tui-lora"
    shutil.rmtree(project, ignore_errors=True)
    make_train_project(project, model, family=family, images=4, size=(c["res"], c["res"]),
                       settings=tui_settings(family, c, te_cache=family == "sdxl"))
    return model, project


def measure(cmd: list[str], out: Path, log: Path, env: dict[str, str] | None = None) -> dict | None:
    out.unlink(missing_ok=True)
    with open(log, "w", encoding="utf-8") as fh:
        code = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, check=False,
                              env={**os.environ, **(env or {})}).returncode
    try:
        result = json.loads(out.read_text())
    except (OSError, ValueError):
        result = None
    if code != 0 or result is None or result.get("s_per_step") is None:
        tail = log.read_text(errors="replace").splitlines()[-15:]
        print(f"{' '.join(cmd[-6:])} … failed (exit {code}); the end of {log}:\n  " + "\n  ".join(tail), flush=True)
        return None
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work", type=Path, help="work folder (models, projects, logs); a temporary one by default")
    p.add_argument("--kohya-python", help="the Python of kohya's venv (peer_gpu.sh makes it)")
    p.add_argument("--kohya-dir", type=Path, help="kohya sd-scripts' checkout")
    p.add_argument("--smoke", action="store_true",
                   help="tiny models, 3 steps, on the CPU; kohya runs only when --kohya-python is given")
    p.add_argument("--cpu-check", action="store_true",
                   help="the real architectures at 64 px, 3 steps, fp32 on the CPU: checks both command lines "
                        "without a GPU (kohya loads only the real SD1.5 / SDXL architectures); measures nothing")
    p.add_argument("--family", choices=("sd15", "sdxl"), action="append", help="only this model (repeatable)")
    p.add_argument("--model", nargs=2, action="append", metavar=("FAMILY", "DIR"),
                   help="use this diffusers folder for FAMILY instead of building one")
    args = p.parse_args()
    given = {f: Path(d) for f, d in args.model or []}
    if bool(args.kohya_python) != bool(args.kohya_dir) or not (args.smoke or args.kohya_python):
        p.error("give --kohya-python and --kohya-dir (benchmarks/peer_gpu.sh does), or --smoke")
    mode = "smoke" if args.smoke else "cpu-check" if args.cpu_check else "gpu"
    work = args.work or Path(tempfile.mkdtemp(prefix="tui-lora-peer-"))
    work.mkdir(parents=True, exist_ok=True)
    (work / "results").mkdir(exist_ok=True)
    measure_py = str(HERE / "peer_measure.py")
    rows = []
    for family, c in cases(mode).items():
        if args.family and family not in args.family:
            continue
        model, project = prepare(work, family, c, mode != "smoke", given.get(family))
        res = work / "results"
        ours = run_ours(f"{family}-tui-lora", project, res, warmup=c["warmup"], mode=mode)
        kohya = None
        if args.kohya_python:
            print(f"{family}: kohya sd-scripts …", flush=True)
            kohya_cmd = [args.kohya_python, measure_py, str(res / f"{family}-kohya.json"), "--warmup",
                         str(c["warmup"]), "--cwd", str(args.kohya_dir), "--", c["script"],
                         *kohya_args(family, c, model=model, data=project / "dataset", out=work / "kohya-out",
                                     tokenizers=work / "tokenizers")]
            kohya = measure(kohya_cmd, res / f"{family}-kohya.json", res / f"{family}-kohya.log")
        precision = "fp32" if c["precision"] == "no" else c["precision"]
        label = f"{family} {c['res']} px, batch 1, dim {c['dim']}, UNet only, {c['optimizer']}, {precision}"
        te = "text-encoder outputs cached" if family == "sdxl" else "text encoder run every step"
        rows.append(row(f"{label}, {te} (matched)", ours, kohya, not args.kohya_python))
        if family == "sd15":  # tui-lora's lever kohya lacks for SD1.5, against the same kohya run
            cached = run_ours("sd15-tui-lora-te-cache", prepare_cached(project), res, warmup=c["warmup"], mode=mode)
            rows.append(row(f"{label}, tui-lora caches text-encoder outputs (kohya cannot for SD1.5)", cached, kohya,
                            not args.kohya_python))
    print_table(rows, work=work)


def run_ours(name: str, project: Path, res: Path, *, warmup: int, mode: str) -> dict | None:
    """``tui-lora train PROJECT`` through peer_measure.py; results and log in ``res``."""
    print(f"{name} …", flush=True)
    cmd = [sys.executable, str(HERE / "peer_measure.py"), str(res / f"{name}.json"), "--warmup", str(warmup), "--",
           "-m", "tui_lora", "train", str(project), *(["--device", "cpu"] if mode != "gpu" else [])]
    # tiny models on a CPU run fastest on one thread (benchmarks/RESULTS.md, "Training step")
    return measure(cmd, res / f"{name}.json", res / f"{name}.log",
                   {"OMP_NUM_THREADS": "1"} if mode == "smoke" else None)


def prepare_cached(project: Path) -> Path:
    """A copy of the SD1.5 project with text-encoder outputs cached."""
    from tui_lora.core.project import Project

    cached = project.with_name(project.name + "-te-cache")
    shutil.rmtree(cached, ignore_errors=True)
    shutil.copytree(project, cached)
    p = Project.load(cached)
    p.set("dataset.cache_text_encoder_outputs", True)
    p.save()
    return cached


def row(label: str, ours: dict | None, kohya: dict | None, skipped: bool) -> dict:
    return {"label": label, "ours": ours, "kohya": kohya, "skipped": skipped}


def print_table(rows: list[dict], *, work: Path) -> None:
    def num(r: dict | None, key: str, fmt: str) -> str:
        return format(r[key], fmt) if r and r.get(key) is not None else "–"

    device = next((r[k]["device"] for r in rows for k in ("ours", "kohya") if r[k]), "?")
    print(f"\n{device}; s/step between optimizer steps after the warm-up steps (the GPU's clock; the wall clock on "
          f"the CPU); peak = max_memory_allocated of the whole process (caching included). Logs: {work / 'results'}\n")
    print("| run | tui-lora s/step | kohya s/step | speed (kohya s / tui-lora s) | tui-lora peak GiB | "
          "kohya peak GiB | VRAM (tui-lora / kohya) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        ours, kohya = r["ours"], r["kohya"]
        if r["skipped"]:
            k = "skipped: --smoke does not install kohya"
            print(f"| {r['label']} | {num(ours, 's_per_step', '.3f')} | {k} | – | {num(ours, 'peak_gib', '.2f')} "
                  "| – | – |")
            continue
        speed = f"{kohya['s_per_step'] / ours['s_per_step']:.2f}" if ours and kohya else "–"
        vram = (f"{ours['peak_gib'] / kohya['peak_gib']:.2f}" if ours and kohya and ours.get("peak_gib")
                and kohya.get("peak_gib") else "–")
        print(f"| {r['label']} | {num(ours, 's_per_step', '.3f')} | {num(kohya, 's_per_step', '.3f')} | {speed} | "
              f"{num(ours, 'peak_gib', '.2f')} | {num(kohya, 'peak_gib', '.2f')} | {vram} |")


if __name__ == "__main__":
    main()
