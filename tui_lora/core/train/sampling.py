"""Sample images during training: the project's sample prompts rendered with the LoRA as it is now.

Hooked into the trainer (``start_hooks`` for ``sample_at_first``, ``epoch_end_hooks`` after each
epoch's save): every ``sample_every_n_epochs`` epochs and after the final save, each prompt is
rendered to ``output/samples/<name>_e<epoch:06d>_<index:02d>.png`` (atomic, with webui's PNG
"parameters") and announced with a ``sample`` event. Epoch 0 is "before the first step".

Sampling never changes the training result: the global RNGs are saved and restored around it (the
trainer draws from its own seeded generators anyway), modules go back to their devices and train /
eval modes, and nothing touches a parameter. It never ends a run either: a failure is a ``warning``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tui_lora.core.fsutil import atomic_write_bytes
from tui_lora.core.sample_prompts import SamplePrompt, load_sample_prompts

if TYPE_CHECKING:
    from tui_lora.core.project import Project
    from tui_lora.core.settings import Settings
    from tui_lora.core.train.setup import Setup
    from tui_lora.core.train.trainer import Trainer


def sample_path(project: Project, epoch: int, index: int) -> Path:
    """kohya's naming without the timestamp: a resumed run overwrites the same epoch's images."""
    return project.samples_dir / f"{project.output_name}_e{epoch:06d}_{index:02d}.png"


@dataclass
class TrainingSampler:
    prompts: list[SamplePrompt]  # resolved: every field set
    every: int
    at_first: bool

    @classmethod
    def from_settings(cls, project: Project, settings: Settings,
                      warn: Callable[[str], None] = lambda m: None) -> TrainingSampler | None:
        """The sampler a run's settings ask for, or None. Bad prompt lines raise a one-sentence UserError
        (before anything loads)."""
        sample = settings.sample
        prompts = load_sample_prompts(project.root, sample)
        wanted = sample.sample_every_n_epochs > 0 or sample.sample_at_first
        if not wanted:
            return None
        if not prompts:
            warn("Sample images are on but there are no sample prompts; add some to [sample] prompts in "
                 "project.toml (or set sample.prompt_file) to see them.")
            return None
        resolved = [p.resolved(index=i, base_seed=settings.training.seed, size=settings.dataset.resolution,
                               sampler=sample.sampler)
                    for i, p in enumerate(prompts)]
        return cls(resolved, sample.sample_every_n_epochs, sample.sample_at_first)

    def attach(self, trainer: Trainer) -> None:
        trainer.start_hooks.append(self._on_start)
        trainer.epoch_end_hooks.append(self._on_epoch_end)

    def _on_start(self, trainer: Trainer) -> None:
        if self.at_first and trainer.state.global_step == 0:
            self.sample(trainer, 0)

    def _on_epoch_end(self, trainer: Trainer, epoch: int, last: bool) -> None:
        if self.every > 0 and (last or epoch % self.every == 0):
            self.sample(trainer, epoch)

    # ----- rendering ---------------------------------------------------------------------------
    def sample(self, trainer: Trainer, epoch: int) -> list[Path]:
        """Render every prompt now; returns the files written. Only the main process renders."""
        s = trainer.s
        acc = s.accelerator
        written: list[Path] = []
        if acc.is_main_process:
            try:
                written = self._render_all(trainer, epoch)
            except Exception as exc:  # noqa: BLE001 - a sample must never end a training run
                trainer.reporter.warning(f"Sample images failed at epoch {epoch} ({_describe(exc)}); training goes on.",
                                         once=f"sample:{type(exc).__name__}")
        acc.wait_for_everyone()
        return written

    def _render_all(self, trainer: Trainer, epoch: int) -> list[Path]:
        from tui_lora.core.train.pipeline import (
            a1111_parameters,
            build_pipeline,
            free_memory,
            make_scheduler,
            png_bytes,
            preserved_rng,
            render,
        )

        s = trainer.s
        t0 = time.monotonic()
        written = []
        # The bare modules: only this process renders, and a DDP wrapper's forward would wait for the others.
        encoders = [getattr(te, "module", te) for te in s.text.text_encoders]
        ztsnr = s.settings.model.zero_terminal_snr
        with preserved_rng(), ready_for_sampling(s):
            pipe = build_pipeline(s.family, unet=s.unet, vae=s.vae, text_encoders=encoders,
                                  tokenizers=s.text.tokenizers,
                                  scheduler=make_scheduler(self.prompts[0].sampler, s.base.scheduler_config,
                                                           v_prediction=s.v_prediction, zero_terminal_snr=ztsnr))
            for i, sp in enumerate(self.prompts):
                if trainer.cancel.is_set():
                    break
                try:
                    image = render(pipe, s.family, sp, tokenizers=s.text.tokenizers,
                                   text_encoders=encoders, clip_skip=s.text.clip_skip,
                                   scheduler_config=s.base.scheduler_config, v_prediction=s.v_prediction,
                                   zero_terminal_snr=ztsnr, guidance_rescale=s.settings.sample.guidance_rescale,
                                   autocast=s.accelerator.autocast(), cancel=trainer.cancel)
                    if image is None:
                        break
                    path = sample_path(s.project, epoch, i)
                    params = a1111_parameters(sp, Model=s.base.name, Lora=s.project.output_name, Epoch=epoch)
                    atomic_write_bytes(path, png_bytes(image, params))
                except Exception as exc:  # noqa: BLE001 - one bad prompt (too large, disk full) spares the rest
                    free_memory(s.device)
                    trainer.reporter.warning(f"Sample prompt {i + 1} failed at epoch {epoch} ({_describe(exc)}); "
                                             "training goes on.", once=f"sample:{i}:{type(exc).__name__}")
                    continue
                written.append(path)
                trainer.reporter.emit("sample", epoch=epoch, path=str(path))
        if written:
            trainer.reporter.line(f"sampled {len(written)} image(s) at epoch {epoch} in "
                                  f"{time.monotonic() - t0:.1f}s: {written[0].parent}")
        return written


def _describe(exc: Exception) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    text = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@contextlib.contextmanager
def ready_for_sampling(s: Setup) -> Iterator[None]:
    """The VAE and text encoders on the training device (they wait on the CPU when their outputs are
    cached), every module in eval mode; all put back afterwards, whatever happens."""
    from tui_lora.core.train.pipeline import free_memory

    modules = [s.unet, s.vae, *s.text.text_encoders]
    modes = [(m, m.training) for top in modules for m in top.modules()]
    moved = []
    try:
        for m in [s.vae, *s.text.text_encoders]:
            where = next(m.parameters()).device
            if where != s.device:
                moved.append((m, where))
                m.to(s.device)
        for top in modules:
            top.eval()
        yield
    finally:
        for m, where in moved:
            m.to(where)
        for m, training in modes:
            m.training = training
        if moved:
            free_memory(s.device)
