"""Tiny SD1.5 and SDXL diffusers pipelines with random weights, built locally in seconds.

They have the real pipelines' structure (UNet2DConditionModel, AutoencoderKL with an 8× VAE,
CLIP text encoders, a byte-level CLIP tokenizer from a generated vocab, a scheduler config) and
are written with ``save_pretrained``, so the real loading code runs on them without the
internet. ``real_size=True`` builds the real SD1.5 / SDXL architectures (random weights) for
speed and memory measurements on a GPU.

Used by the test-suite fixtures, the benchmarks and ``tui-lora demo``.
"""

from __future__ import annotations

import json
from pathlib import Path

TINY_VOCAB_MERGES = ("t h", "th e</w>", "a n", "i n", "e r", "o n", "r e", "h a", "a i", "g i")


def bytes_to_unicode() -> dict[int, str]:
    """CLIP's (and GPT-2's) reversible byte → printable-unicode table."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


def write_tiny_tokenizer(folder: Path, *, model_max_length: int = 77, pad_token: str = "<|endoftext|>") -> int:
    """Write vocab.json / merges.txt / tokenizer_config.json of a byte-level CLIP tokenizer.

    Returns the vocabulary size (the text encoder's ``vocab_size`` must be at least that).
    """
    folder.mkdir(parents=True, exist_ok=True)
    chars = list(bytes_to_unicode().values())
    vocab_list = chars + [c + "</w>" for c in chars]
    for merge in TINY_VOCAB_MERGES:
        vocab_list.append(merge.replace(" ", ""))
    vocab_list += ["<|startoftext|>", "<|endoftext|>"]
    vocab = {tok: i for i, tok in enumerate(dict.fromkeys(vocab_list))}
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(TINY_VOCAB_MERGES) + "\n", encoding="utf-8")
    (folder / "special_tokens_map.json").write_text(json.dumps({
        "bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>",
        "unk_token": "<|endoftext|>", "pad_token": pad_token,
    }), encoding="utf-8")
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "CLIPTokenizer",
        "model_max_length": model_max_length,
        "bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>",
        "unk_token": "<|endoftext|>", "pad_token": pad_token,
        "do_lower_case": True,
    }), encoding="utf-8")
    return len(vocab)


def _clip_config(vocab_size: int, *, hidden: int, layers: int, heads: int, inter: int, projection: int, real_size: bool):
    from transformers import CLIPTextConfig

    return CLIPTextConfig(
        vocab_size=49408 if real_size else vocab_size,
        hidden_size=hidden,
        intermediate_size=inter,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        max_position_embeddings=77,
        projection_dim=projection,
        hidden_act="quick_gelu" if hidden == 768 or not real_size else "gelu",
        bos_token_id=vocab_size - 2,
        eos_token_id=vocab_size - 1,
        pad_token_id=vocab_size - 1,
    )


def _tiny_vae(*, sdxl: bool, real_size: bool):
    from diffusers import AutoencoderKL

    if real_size:
        return AutoencoderKL(
            block_out_channels=(128, 256, 512, 512),
            down_block_types=("DownEncoderBlock2D",) * 4,
            up_block_types=("UpDecoderBlock2D",) * 4,
            layers_per_block=2,
            latent_channels=4,
            sample_size=1024 if sdxl else 512,
            scaling_factor=0.13025 if sdxl else 0.18215,
            force_upcast=sdxl,
        )
    # Four levels keep the real 8× downscale, so bucket and latent sizes match real models.
    return AutoencoderKL(
        block_out_channels=(8, 8, 16, 16),
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        layers_per_block=1,
        latent_channels=4,
        norm_num_groups=4,
        sample_size=128,
        scaling_factor=0.13025 if sdxl else 0.18215,
        force_upcast=False,
    )


def build_tiny_sd15(path: str | Path, *, v_prediction: bool = False, seed: int = 0, real_size: bool = False) -> Path:
    """Save a random-weights SD1.5 pipeline to ``path`` and return it."""
    import torch
    from diffusers import PNDMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTokenizer

    path = Path(path)
    torch.manual_seed(seed)
    tok_dir = path / "_tokenizer_src"
    vocab_size = write_tiny_tokenizer(tok_dir)
    tokenizer = CLIPTokenizer.from_pretrained(tok_dir)
    if real_size:
        te_cfg = _clip_config(vocab_size, hidden=768, layers=12, heads=12, inter=3072, projection=768, real_size=True)
        unet = UNet2DConditionModel(
            sample_size=64,
            cross_attention_dim=768,
            attention_head_dim=8,
            block_out_channels=(320, 640, 1280, 1280),
            layers_per_block=2,
            down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
            up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
        )
    else:
        te_cfg = _clip_config(vocab_size, hidden=32, layers=3, heads=4, inter=37, projection=32, real_size=False)
        unet = UNet2DConditionModel(
            sample_size=16,
            in_channels=4,
            out_channels=4,
            block_out_channels=(32, 64),
            layers_per_block=2,
            down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
            cross_attention_dim=32,
            attention_head_dim=(2, 4),
            norm_num_groups=8,
        )
    text_encoder = CLIPTextModel(te_cfg)
    scheduler = PNDMScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", num_train_timesteps=1000,
        skip_prk_steps=True, set_alpha_to_one=False, steps_offset=1,
        prediction_type="v_prediction" if v_prediction else "epsilon",
    )
    pipe = StableDiffusionPipeline(
        vae=_tiny_vae(sdxl=False, real_size=real_size),
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(path, safe_serialization=True)
    _rmtree(tok_dir)
    return path


def build_tiny_sdxl(path: str | Path, *, v_prediction: bool = False, seed: int = 0, real_size: bool = False,
                    te2_width: int = 32) -> Path:
    """Save a random-weights SDXL pipeline to ``path`` and return it.

    ``te2_width`` (tiny only) sets the second text encoder's width; a width unlike the first's (as in
    the real model, 768 vs 1280) lets diffusers' single-file loader tell the two encoders apart."""
    import torch
    from diffusers import EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

    path = Path(path)
    torch.manual_seed(seed)
    tok1, tok2 = path / "_tok1", path / "_tok2"
    vocab_size = write_tiny_tokenizer(tok1)
    write_tiny_tokenizer(tok2, pad_token="!")  # SDXL's second tokenizer pads with "!"
    if real_size:
        te1 = _clip_config(vocab_size, hidden=768, layers=12, heads=12, inter=3072, projection=768, real_size=True)
        te2 = _clip_config(vocab_size, hidden=1280, layers=32, heads=20, inter=5120, projection=1280, real_size=True)
        unet = UNet2DConditionModel(
            sample_size=128,
            cross_attention_dim=2048,
            attention_head_dim=(5, 10, 20),
            block_out_channels=(320, 640, 1280),
            layers_per_block=2,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
            transformer_layers_per_block=(1, 2, 10),
            addition_embed_type="text_time",
            addition_time_embed_dim=256,
            projection_class_embeddings_input_dim=2816,
            use_linear_projection=True,
        )
    else:
        te1 = _clip_config(vocab_size, hidden=32, layers=3, heads=4, inter=37, projection=32, real_size=False)
        te2 = _clip_config(vocab_size, hidden=te2_width, layers=3, heads=4, inter=37, projection=te2_width,
                           real_size=False)
        unet = UNet2DConditionModel(
            sample_size=16,
            in_channels=4,
            out_channels=4,
            block_out_channels=(32, 64),
            layers_per_block=2,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
            cross_attention_dim=32 + te2_width,  # te1 hidden + te2 hidden
            attention_head_dim=(2, 4),
            transformer_layers_per_block=(1, 2),
            addition_embed_type="text_time",
            addition_time_embed_dim=8,
            projection_class_embeddings_input_dim=48 + te2_width,  # 6 × 8 time ids + te2 pooled
            use_linear_projection=True,
            norm_num_groups=8,
        )
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", num_train_timesteps=1000,
        steps_offset=1, timestep_spacing="leading",
        prediction_type="v_prediction" if v_prediction else "epsilon",
    )
    pipe = StableDiffusionXLPipeline(
        vae=_tiny_vae(sdxl=True, real_size=real_size),
        text_encoder=CLIPTextModel(te1),
        text_encoder_2=CLIPTextModelWithProjection(te2),
        tokenizer=CLIPTokenizer.from_pretrained(tok1),
        tokenizer_2=CLIPTokenizer.from_pretrained(tok2),
        unet=unet,
        scheduler=scheduler,
        force_zeros_for_empty_prompt=True,
    )
    pipe.save_pretrained(path, safe_serialization=True)
    _rmtree(tok1)
    _rmtree(tok2)
    return path


def _rmtree(p: Path) -> None:
    import shutil

    shutil.rmtree(p, ignore_errors=True)
