"""The sections of project.toml that say how a LoRA trains and what it writes: [network], [training],
[sample], [output].

Each is a frozen :class:`~.schema.Section` dataclass whose fields are its keys (type = kind, default,
help text and allowed values via :func:`~.schema.setting`; the choices of network type, optimizer,
scheduler and sampler come from :mod:`.registry`); :class:`~.settings.Settings` holds one of each.
They are apart from the input sections (:mod:`.settings_sources`) because they grow with the trainer
(a loss, a speed lever, a network type) while those grow with the dataset tools.
"""

# No ``from __future__ import annotations`` here: the fields' types are read at import (they are
# the keys' kinds), and real type objects cost nothing to read where strings would be evaluated.
from dataclasses import dataclass
from typing import ClassVar, Literal

from tui_lora.core.registry import networks, optimizers, samplers, schedulers
from tui_lora.core.schema import Section, setting


@dataclass(frozen=True)
class NetworkSettings(Section):
    """[network]: what the LoRA trains and at which rank."""

    SECTION: ClassVar[str] = "network"
    network_type: str = setting(
        "lora", "lora trains attention and feed-forward layers; locon also trains the convolutions "
                "(ResNet blocks), which helps styles and textures; loha (LyCORIS) packs a style into a small "
                "dim; lokr (LyCORIS) makes the smallest files.", choices=networks.NAMES)
    dora: bool = setting(
        False, "DoRA (weight-decomposed LoRA) for lora and locon: also learns each output row's magnitude, "
               "which keeps fine detail at the same dim, for about 30 % more time and memory. Loads in "
               "ComfyUI, Forge and LyCORIS; AUTOMATIC1111 applies it wrongly.")
    lokr_factor: int = setting(
        -1, "LoKr only: the side of its small full matrix (LyCORIS's factor); -1 picks the most balanced split "
            "of each layer, larger values give smaller files.", minimum=-1, maximum=1024)
    network_dim: int = setting(
        16, "LoRA rank: capacity of the LoRA and its file size. 8-32 is plenty for a character; "
            "more memorises noise.", minimum=1, maximum=1024)
    network_alpha: float = setting(
        8.0, "Scales the LoRA's effect by alpha/dim; half of dim is the common choice. "
             "A lower alpha needs a higher learning rate.", minimum=0.0, maximum=1024.0)
    conv_dim: int = setting(8, "Rank of the 3×3 convolution layers (locon, loha, lokr); 0 leaves them out.",
                            minimum=0, maximum=1024)
    conv_alpha: float = setting(4.0, "Alpha of the convolution layers (locon, loha, lokr).", minimum=0.0,
                                maximum=1024.0)
    network_train_unet_only: bool = setting(
        False, "Train only the UNet, not the text encoder(s). Standard for SDXL (its text encoders are "
               "big and easy to break); saves VRAM.")


@dataclass(frozen=True)
class TrainingSettings(Section):
    """[training]: the optimizer, the schedule and the training maths."""

    SECTION: ClassVar[str] = "training"
    optimizer_type: str = setting(
        "AdamW8bit", "AdamW8bit is AdamW with 8-bit states (less VRAM, same results). "
                     f"{' and '.join(optimizers.SELF_TUNING)} find the learning rate themselves: set the rates "
                     "to 1.0.", choices=optimizers.NAMES)
    optimizer_args: list[str] = setting(
        [], "Extra optimizer arguments as key=value strings, e.g. [\"weight_decay=0.01\", "
            "\"decouple=True\"] for Prodigy.")
    unet_lr: float = setting(
        5e-4, "Learning rate of the UNet LoRA: how big each update is. Too high burns the image, too "
              "low learns nothing.", minimum=0.0, maximum=10.0)
    text_encoder_lr: float = setting(
        1e-4, "Learning rate of the text encoder LoRA; usually a fifth to a half of unet_lr because "
              "the text encoder overfits fast.", minimum=0.0, maximum=10.0)
    lr_scheduler: str = setting(
        "cosine_with_restarts", "How the learning rate changes over the run; cosine variants end gently, which "
                                "gives cleaner late epochs.", choices=schedulers.NAMES)
    lr_scheduler_num_cycles: int = setting(1, "Restarts for cosine_with_restarts.", minimum=1, maximum=100)
    lr_scheduler_power: float = setting(1.0, "Power of the polynomial scheduler.", minimum=0.0, maximum=10.0)
    lr_warmup_ratio: float = setting(
        0.0, "Share of the steps spent ramping the learning rate up from zero; a few percent avoids "
             "an early jolt.", minimum=0.0, maximum=1.0)
    lr_warmup_steps: int = setting(0, "Warmup in steps; when above 0 it wins over lr_warmup_ratio.", minimum=0)
    train_batch_size: int = setting(
        2, "Images per step (per GPU). Bigger batches smooth the updates but cost VRAM; steps per "
           "epoch shrink accordingly.", minimum=1, maximum=256)
    max_train_epochs: int = setting(
        10, "How many times the whole dataset (with repeats) is seen. When above 0 it wins over "
            "max_train_steps, as in kohya.", minimum=0, maximum=10000)
    max_train_steps: int = setting(
        0, "Total steps, used when max_train_epochs is 0.", minimum=0, maximum=10_000_000)
    mixed_precision: Literal["no", "fp16", "bf16"] = setting(
        "fp16", "bf16 on RTX 30xx / A100 / H100 and newer (no overflow); fp16 on older cards; no for "
                "full fp32 (CPU).")
    gradient_checkpointing: bool = setting(
        False, "Recompute activations in the backward pass: much less VRAM for about 20-30 % more time.")
    seed: int = setting(42, "Random seed; the same seed and data give the same LoRA.", minimum=0, maximum=2**32 - 1)
    noise_offset: float = setting(
        0.0, "Adds a small constant to the noise so the model can learn very dark and very bright "
             "images; 0.03-0.1 typical.", minimum=0.0, maximum=1.0)
    multires_noise_iterations: int = setting(
        0, "Pyramid (multi-resolution) noise levels; 6-10 gives richer contrast. 0 is off.", minimum=0, maximum=20)
    multires_noise_discount: float = setting(
        0.3, "How fast the pyramid noise fades per level; 0.3 for LoRA.", minimum=0.0, maximum=1.0)
    min_snr_gamma: float = setting(
        0.0, "Min-SNR loss weighting: stops the easy low-noise steps from dominating; 5 speeds up "
             "convergence. 0 is off.", minimum=0.0, maximum=100.0)
    loss_type: Literal["l2", "l1", "huber", "smooth_l1"] = setting(
        "l2", "The loss (kohya's --loss_type): l2 (mean squared error) is the standard; huber and smooth_l1 "
              "weigh outliers less, which helps with noisy or mixed-quality datasets.")
    huber_schedule: Literal["snr", "exponential", "constant"] = setting(
        "snr", "How huber / smooth_l1 set their threshold per timestep: snr (kohya's default) is squared-error-like "
               "at low noise and robust at high noise; constant uses huber_c throughout.")
    huber_c: float = setting(
        0.1, "The Huber threshold (kohya's --huber_c): below it the loss is quadratic, above it linear.",
        minimum=0.0001, maximum=1.0)
    huber_scale: float = setting(
        1.0, "Scales the Huber threshold of the exponential and constant schedules (kohya's --huber_scale).",
        minimum=0.0001, maximum=100.0)
    debiased_estimation_loss: bool = setting(
        False, "Weight each step's loss by 1/√SNR (1/(SNR+1) for v-prediction), kohya's debiased estimation: "
               "less weight on the easy low-noise steps, often crisper detail. An alternative to min_snr_gamma.")
    ip_noise_gamma: float = setting(
        0.0, "Input perturbation noise: the noisy input gets this much extra noise the target does not know of, "
             "a regulariser against overfitting; 0.1 is the paper's value. 0 is off.", minimum=0.0, maximum=1.0)
    clip_skip: int = setting(
        1, "Use the text encoder's n-th last layer. 2 for anime models descended from NovelAI, "
           "1 for realistic SD1.5; ignored for SDXL.", minimum=1, maximum=12)
    max_token_length: int = setting(
        75, "Longest caption in tokens; 150 or 225 encodes long captions in 75-token chunks.",
        allowed=(75, 150, 225))
    max_grad_norm: float = setting(
        1.0, "Clips the gradient norm to tame spikes; 0 is off.", minimum=0.0, maximum=1000.0)
    # Speed levers (tui_lora.core.speed): how fast a step runs, not what it learns (but fp8_base / low_vram).
    allow_tf32: bool = setting(
        True, "Let fp32 matrix products and convolutions use TensorFloat-32 on Ampere and newer GPUs (RTX 30xx, "
              "A100, H100): much faster, with fp16-like rounding, as PyTorch recommends for training. No effect "
              "on the CPU or older GPUs.")
    fused_optimizer: bool = setting(
        True, "Update all LoRA weights with torch's fused AdamW kernel (on the GPU, and the CPU with torch "
              "2.4+) or a few batched ones (foreach, elsewhere) instead of one small update per tensor. "
              "8-bit optimizers, Prodigy and the others keep their own update.")
    torch_compile: Literal["off", "blocks"] = setting(
        "off", "blocks compiles each transformer and ResNet block of the UNet with torch.compile: faster "
               "steps after a compile of a minute or more at the start (each new bucket size compiles once "
               "more). off until measured on a GPU (benchmarks/RESULTS.md).")
    channels_last: bool = setting(
        False, "Lay out the UNet's and the VAE's images channels-last, the layout GPU tensor cores prefer for "
               "fp16/bf16 convolutions. off until measured on a GPU (benchmarks/RESULTS.md).")
    fp8_base: bool = setting(
        False, "Keep the frozen UNet's weights in 8 bits (fp8 on RTX 40xx / H100 and newer and on the CPU, "
               "int8 on older GPUs), widened per layer while it runs: half the UNet's VRAM, slightly "
               "rounded weights; turns on gradient_checkpointing too. The LoRA itself trains in full "
               "precision. kohya's --fp8_base.")
    low_vram: bool = setting(
        False, "SDXL on 8-12 GB cards: turns on fp8_base, gradient_checkpointing and 8-bit optimizer states "
               "(AdamW becomes AdamW8bit) for the run; slower steps, far less VRAM.")


@dataclass(frozen=True)
class SampleSettings(Section):
    """[sample]: sample images rendered during training."""

    SECTION: ClassVar[str] = "sample"
    prompts: list[str] = setting(
        [], "Prompts for sample images during training, in kohya's line format: "
            "prompt --n negative --w 512 --h 512 --d seed --l cfg --s steps --ss sampler. "
            "Without --d a prompt uses training.seed plus its position, so every epoch starts from the same noise.")
    prompt_file: str = setting(
        "", "A text file of sample prompts, one per line in the same format (kohya's --sample_prompts); "
            "# starts a comment. A relative path is inside the project folder. Used with sample.prompts.")
    sample_every_n_epochs: int = setting(
        0, "Render the sample prompts every n epochs so you can watch the LoRA learn; 0 is off.", minimum=0)
    sample_at_first: bool = setting(False, "Also render samples before the first step, as a baseline.")
    guidance_rescale: float = setting(
        0.0, "CFG rescale (diffusers' guidance_rescale, the zero-terminal-SNR paper's fix for over-exposed "
             "images at high CFG): 0.7 for zero_terminal_snr models, 0 otherwise.", minimum=0.0, maximum=1.0)
    sampler: str = setting(
        "euler_a", "The sampler for sample images and comparison grids (kohya's names): euler_a is Euler a, "
                   "dpmsolver++ is DPM++ 2M Karras, ddim is DDIM.", choices=samplers.NAMES)


@dataclass(frozen=True)
class OutputSettings(Section):
    """[output]: the LoRA files written."""

    SECTION: ClassVar[str] = "output"
    output_name: str = setting("", "Base name of the LoRA files; empty means the project name.")
    save_every_n_epochs: int = setting(
        1, "Save a LoRA file every n epochs, so you can pick the best epoch later; 0 saves only "
           "the final one.", minimum=0)
    save_precision: Literal["float", "fp16", "bf16"] = setting(
        "fp16", "Precision of the saved file: fp16 halves the size with no visible loss; float keeps fp32.")
