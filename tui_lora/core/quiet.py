"""Third-party chatter that is not ours and not the user's to act on, kept off the terminal and
logs/train.log.

bitsandbytes, on a CPU with AVX512-BF16, tries to fetch a kernel from the Hugging Face hub when it is
imported and logs "Failed to load CPU gemm_4bit_forward … pip install kernels" when it cannot: a
note about a 4-bit path LoRA training never takes, which reads like our own failure. Its loggers
(and the kernels package's) keep errors only. Call :func:`silence_third_party` before anything
imports them; it is cheap and imports nothing.
"""

from __future__ import annotations

import logging
import warnings

# Loggers whose warnings concern code paths tui-lora does not use.
QUIET_LOGGERS = ("bitsandbytes", "kernels")


def silence_third_party() -> None:
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module=r"bitsandbytes(\..*)?")
