"""Where a run computes: the device, the accelerate ``Accelerator``, precisions and GPU memory.

:func:`resolve_device` turns ``--device`` (or nothing) into ``cuda`` / ``cuda:N`` / ``cpu`` with a
plain error for a GPU that is not there; :func:`make_accelerator` builds accelerate's object for
one precision; :func:`place` and :func:`free_gpu_memory` move models on and off the GPU;
:func:`quiet_libraries` keeps the libraries' own bars and notes out of the log. Apart from
:mod:`.setup` because the sweep and the comparison use them without building a training run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from tui_lora.core.errors import ChangeInput, Fix, Given, UserError, Words

if TYPE_CHECKING:
    import torch
    from accelerate import Accelerator

# training.mixed_precision → the torch dtype name the frozen weights are kept in.
DTYPES = {"no": "float32", "fp16": "float16", "bf16": "bfloat16"}


def resolve_device(device: str | None, warn: Callable[[str], None] = lambda m: None) -> str:
    """``cuda`` / ``cuda:N`` / ``cpu``; without a request, the first CUDA GPU, else the CPU (with a warning)."""
    import torch

    if device:
        if device.startswith("cuda"):
            if not torch.cuda.is_available():
                raise UserError(Words("{} was asked for but no CUDA GPU is available here", Given("device", device)),
                                Fix("{} to train on the CPU, or check the NVIDIA driver with nvidia-smi",
                                    ChangeInput("device", verb="drop")))
            if ":" in device:
                index = int(device.split(":", 1)[1]) if device.split(":", 1)[1].isdigit() else -1
                if not 0 <= index < torch.cuda.device_count():
                    raise UserError(f"There is no GPU {device}; this machine has {torch.cuda.device_count()} "
                                    "(cuda:0 … )", Fix("see nvidia-smi"))
                torch.cuda.set_device(index)  # accelerate then places everything on it
            return device
        if device != "cpu":
            raise UserError(Words("{} is not supported", Given("device", device)), Fix("use cuda, cuda:N or cpu"))
        return device
    if torch.cuda.is_available():
        return "cuda"
    warn("No CUDA GPU found; training on the CPU, which takes hours per epoch for real SD1.5 / SDXL models.")
    return "cpu"


def make_accelerator(mixed_precision: str, cpu: bool, find_unused: bool = False) -> Accelerator:
    """accelerate's Accelerator for one precision (``no`` / ``fp16`` / ``bf16``), on the CPU or the GPU."""
    from accelerate import Accelerator, DistributedDataParallelKwargs
    from accelerate.state import AcceleratorState

    state = AcceleratorState._shared_state
    if state and state.get("_mixed_precision", mixed_precision) != mixed_precision:
        # A second run in one process (tests, the wizard's helpers) with another precision.
        AcceleratorState._reset_state(reset_partial_state=False)
    # Under DDP (--gpus N): a text encoder's layers past the one used (clip_skip, SDXL's penultimate
    # layer) carry LoRA weights that get no gradient, which DDP must be told to expect.
    ddp = DistributedDataParallelKwargs(find_unused_parameters=find_unused)
    return Accelerator(mixed_precision=mixed_precision, cpu=cpu, kwargs_handlers=[ddp])


def place(module: torch.nn.Module, device: torch.device, dtype: torch.dtype) -> None:
    """Move to ``device``; cast only when the dtype differs (loading already used the right one)."""
    if next(module.parameters()).dtype != dtype:
        module.to(dtype=dtype)
    module.to(device)


def quiet_libraries() -> None:
    """Our progress line and events say what happens; the libraries' loading bars and notes would
    bury it in logs/train.log. Download bars (huggingface_hub) stay."""
    from tui_lora.core.quiet import silence_third_party

    silence_third_party()
    import diffusers
    import huggingface_hub
    import transformers

    diffusers.utils.logging.set_verbosity_error()
    diffusers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    huggingface_hub.utils.enable_progress_bars()  # transformers turned the hub's off too; downloads show theirs


def free_gpu_memory(dev: str) -> None:
    """Give the GPU memory of models moved off it back to the driver (a no-op on the CPU, where a full
    garbage collection would only cost a second)."""
    if not dev.startswith("cuda"):
        return
    import gc

    import torch

    gc.collect()
    torch.cuda.empty_cache()
