"""tui-lora: a terminal wizard that makes Stable Diffusion LoRAs."""

__version__ = "0.1.0"
