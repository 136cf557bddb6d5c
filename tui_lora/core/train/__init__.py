"""The trainer: SD1.5 / SDXL LoRA and LoCon through diffusers + peft, saved in kohya's format.

torch, diffusers, peft and accelerate are imported only inside the functions that need them, so
importing this package (or :mod:`.layout`, which the planner uses) stays light.

Entry points:
- :func:`.run.train_project` — train a project in this process (what ``tui-lora train`` runs).
- :class:`.trainer.Trainer` — ``Trainer.create(project, settings, reporter)`` loads everything;
  ``fit(until_step=None)`` trains from ``trainer.state``; ``state_dict()`` / ``load_state_dict()``
  hold every piece of mutable state; ``epoch_end_hooks`` run after each epoch's save;
  ``save(path, epoch=…)`` writes the kohya file; ``eval_loss(batch, seed)`` is a fixed yardstick.
- :func:`.layout.scan_layout` — the epoch's images, repeats and buckets (shared with the planner).

Modules: model (loading, family / v-prediction), network (peft targets), kohya_names (file keys),
saving (file + metadata), layout / data / images / captions / text / latents (the data side),
noise, optim, progress (events + progress line), setup (everything before the first step),
trainer (the loop and its state).
"""
