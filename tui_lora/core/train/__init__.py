"""The trainer: SD1.5 / SDXL LoRA and LoCon through diffusers + peft, saved in kohya's format.

torch, diffusers, peft and accelerate are imported only by the submodules that need them, so
importing this package (or :mod:`tui_lora.core.train.layout`, which the planner uses) stays light.

Entry points:
- :func:`tui_lora.core.train.run.train_project` — train a project in this process (the CLI).
- :class:`tui_lora.core.train.trainer.Trainer` — the loop with explicit, serialisable state.
"""
