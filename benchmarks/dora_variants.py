"""How far ComfyUI's and A1111's DoRA merges land from LyCORIS's (= what tui-lora trains) on real saved files.

For lora+DoRA and locon+DoRA on the tiny SD1.5 and SDXL models: train a few steps (``--steps`` at
``--lr``), optionally push the trained tensors away from their start as tests/test_train_lycoris_file.py
does (``--push``: lora_up + 0.05·N(0,1), magnitudes × (1 + 0.05·N(0,1))), save the fp16 file, merge it into fresh copies of the model with tests/reference_merge.py's three DoRA
variants at strength 1 (and 0.6), and compare the UNet output with the in-training model's:

- ``effect``: max |UNet output with the LoRA − without| (how much the LoRA does);
- per variant: max |output − in-training output|, and that relative to the effect;
- ``‖sΔW‖/‖W‖``: the median over modules of the update's size relative to the weight — ComfyUI's
  output-axis error grows with it (it divides by ‖W‖ where LyCORIS divides by ‖W + sΔW‖).

    python benchmarks/dora_variants.py [--steps 2] [--lr 1e-3] [--push]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--push", action="store_true", help="perturb the trained tensors as the proof test does")
    args = ap.parse_args()

    import torch
    from safetensors.torch import load_file

    import reference_merge as R
    import test_train_lycoris_file as T
    from tui_lora.demo.tiny_models import build_tiny_sd15, build_tiny_sdxl

    torch.set_num_threads(1)
    tmp = Path(tempfile.mkdtemp())
    models = {"sd15": build_tiny_sd15(tmp / "sd15"), "sdxl": build_tiny_sdxl(tmp / "sdxl")}
    print("| model | type | ‖sΔW‖/‖W‖ (median) | effect | variant | strength | max abs err | err / effect |")
    print("|---|---|---:|---:|---|---:|---:|---:|")
    for family, model in models.items():
        for network_type in ("lora", "locon"):
            run = tmp / f"{family}-{network_type}"
            run.mkdir()
            project, trainer = _trained(run, model, family, network_type, args)
            path = trainer.save(project.epoch_file(1), epoch=1)
            s = trainer.s
            ratio = _update_ratio(load_file(str(path)), s, R)
            enc, out_train = T.outputs(family, s.text, s.unet)
            unet, _tes, text = T.fresh(family, model, s.text.clip_skip)
            _, out_base = T.outputs(family, text, unet, enc.hidden, enc.pooled)
            effect = (out_train - out_base).abs().max().item()
            for strength in (1.0, 0.6):
                for variant in R.DORA_VARIANTS:
                    _, out = T.merged_outputs(family, model, path, s.text.clip_skip, enc, dora=variant,
                                              strength=strength)
                    if strength == 1.0:
                        ref = out_train
                    else:  # no trained model at 0.6: compare with LyCORIS's own rule at 0.6
                        _, ref = T.merged_outputs(family, model, path, s.text.clip_skip, enc, strength=strength)
                    err = (out - ref).abs().max().item()
                    print(f"| {family} | {network_type}+DoRA | {ratio:.3f} | {effect:.4f} | {variant} | {strength:g} "
                          f"| {err:.2e} | {err / effect:.3f} |", flush=True)


def _trained(root: Path, model: Path, family: str, network_type: str, args):
    import io

    import test_train_lycoris_file as T
    from tui_lora.core.train.run import make_reporter
    from tui_lora.core.train.trainer import Trainer
    from support.train import make_train_project

    settings = {"network.network_type": network_type, "network.dora": True, "network.network_dim": 4,
                "network.network_alpha": 1.0, "network.conv_dim": 2, "network.conv_alpha": 3.0,
                "network.network_train_unet_only": False, "training.unet_lr": args.lr,
                "training.text_encoder_lr": args.lr, "training.max_train_steps": args.steps,
                "training.max_train_epochs": 0, "output.save_precision": "fp16"}
    project = make_train_project(root / "p", model, family=family, images=4, settings=settings)
    trainer = Trainer.create(project, project.effective_settings(), make_reporter(project, stream=io.StringIO()))
    trainer.fit(until_step=args.steps)
    if args.push:
        T.perturb(trainer.s.modules)
    return project, trainer


def _update_ratio(sd, s, R) -> float:
    """Median over the file's modules of ‖scale·ΔW‖ / ‖W‖ (Frobenius)."""
    weights = {m.kohya: m.module.get_base_layer().weight for m in s.modules}
    ratios = []
    for name, parts in R.split_modules(sd).items():
        w = weights[name].detach().float()
        delta, scale = R.delta_weight(parts, w.shape)
        ratios.append((scale * delta).norm().item() / w.norm().item())
    return statistics.median(ratios)


if __name__ == "__main__":
    main()
