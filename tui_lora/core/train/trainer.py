"""The training loop, with every piece of mutable state explicit and serialisable.

Design for resuming (issue #4) and sampling (issue #9):
- :class:`TrainState` (global step, epoch, step in epoch) plus :meth:`Trainer.state_dict` /
  :meth:`Trainer.load_state_dict` (LoRA weights, optimizer, scheduler, grad scaler, RNG states),
  both in :mod:`.resumable`.
- The batches of an epoch are a pure function of (seed, epoch); each step's noise and timesteps
  come from a generator seeded by (seed, global step); caption / flip randomness is keyed by
  (seed, epoch, batch, position). Loading a state and calling :meth:`fit` therefore continues
  exactly where an uninterrupted run would be (bitwise on CPU).
- :attr:`Trainer.epoch_end_hooks` run after each epoch's save, :attr:`Trainer.start_hooks` after the
  start event (sampling, :mod:`.sampling`, uses both); ``cancel``
  (a threading.Event) and ``fit(until_step=…)`` stop cleanly between steps.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui_lora.core.errors import FreeDisk, Fix, Namer, Notice, UserError, neutral_name
from tui_lora.core.train import data as D
from tui_lora.core.train.guards import TrainingDiverged, diverged_message, tensors_finite
from tui_lora.core.train.hostsync import PendingLosses, StepFacts, first_bad, read_seconds, take_rows, to_device
from tui_lora.core.train.loss import training_loss
from tui_lora.core.train.noise import make_noise, sample_timesteps, target_for
from tui_lora.core.train.progress import LossMeter, Reporter, Speed
from tui_lora.core.train.resumable import Resumable, TrainState
from tui_lora.core.train.saving import kohya_state_dict, per_save_metadata, save_lora
from tui_lora.core.train.setup import Setup, build_setup

if TYPE_CHECKING:
    import torch

    from tui_lora.core.project import Project
    from tui_lora.core.settings import Settings
    from tui_lora.core.train.model import BaseModel
    from tui_lora.core.train.latents import LatentShare


@dataclass
class TrainResult:
    path: Path | None  # the final LoRA (None when stopped before the end)
    steps: int
    epochs: int
    seconds: float
    files: list[Path] = field(default_factory=list)
    stopped: bool = False
    loss: float | None = None
    warnings: list[Notice] = field(default_factory=list)

    def to_dict(self, name: Namer = neutral_name) -> dict[str, Any]:
        """As JSON; ``name`` names the steps of the warnings' fixes (a front end's words)."""
        return {"path": str(self.path) if self.path else None, "steps": self.steps, "epochs": self.epochs,
                "seconds": round(self.seconds, 1), "files": [str(p) for p in self.files],
                "stopped": self.stopped, "loss": self.loss, "warnings": [w.text(name) for w in self.warnings]}


def derived_seed(seed: int, tag: str, n: int) -> int:
    return int(hashlib.sha256(f"tui-lora:{tag}:{seed}:{n}".encode()).hexdigest()[:15], 16)


class Trainer(Resumable):
    """Train a project's LoRA. Build with :meth:`create` (loads the model, caches latents …)."""

    def __init__(self, setup: Setup, reporter: Reporter, *, cancel: threading.Event | None = None) -> None:
        self.s = setup
        self.reporter = reporter
        self.cancel = cancel or threading.Event()
        self.state = TrainState()
        self.epoch_end_hooks: list[Callable[[Trainer, int, bool], None]] = []
        self.start_hooks: list[Callable[[Trainer], None]] = []  # after the start event (sample_at_first)
        self.files: list[Path] = []
        self._losses = LossMeter(setup.steps_per_epoch)
        self._speed = Speed()
        # Step losses stay on the device until read in one sync (hostsync); events follow at that time.
        self.pending = PendingLosses(read_seconds(setup.device.type, setup.accelerator.num_processes))
        self.last_loss: float | None = None

    @classmethod
    def create(cls, project: Project, settings: Settings, reporter: Reporter, *, cancel: threading.Event | None = None,
               base_model: BaseModel | None = None, device: str | None = None,
               latents: LatentShare | None = None) -> Trainer:
        cancel = cancel or threading.Event()
        return cls(build_setup(project, settings, reporter, cancel=cancel, base_model=base_model, device=device,
                               latents=latents), reporter, cancel=cancel)

    # ----- one step ---------------------------------------------------------------------------
    def _local_rows(self, n: int) -> list[int]:
        """Positions in a global batch of ``n`` that this process trains (all of them on one GPU)."""
        acc = self.s.accelerator
        return list(range(acc.process_index, n, acc.num_processes))

    def _conditioning(self, captions: list[str], *, grad: bool):
        import torch

        s = self.s
        if s.te_cache is not None:
            encs = [s.te_cache[c] for c in captions]
            hidden = to_device([e[0] for e in encs], s.device)
            pooled = to_device([e[1] for e in encs], s.device) if encs[0][1] is not None else None
            return hidden, pooled
        with torch.set_grad_enabled(grad), s.accelerator.autocast():
            enc = s.text.encode(captions)
        return enc.hidden, enc.pooled

    def _latents(self, items: list):
        s = self.s
        if s.latent_cache is not None:
            lat = to_device([s.latent_cache.get(it.index, it.flip) for it in items], s.device)
            return lat, list(range(len(items)))
        pixels, bad = D.load_pixels(s.layout, items)
        for pos in bad:
            path = s.layout.entries[items[pos].index].path
            self.reporter.warning(f"{path.name} cannot be read (corrupt or truncated); it is skipped.", once=str(path))
        kept = [n for n in range(len(items)) if n not in bad]
        if not kept:
            return None, kept
        from tui_lora.core.train.latents import encode_images

        return encode_images(s.vae, pixels, device=s.device, dtype=s.vae_dtype), kept

    def _loss(self, items: list, rows: list[int], generator, global_batch_size: int, *, grad: bool):
        """The loss of ``items``, which sit at ``rows`` of the global batch. Noise and timesteps are
        drawn for the whole global batch and indexed, so a multi-process run sees the same numbers
        as a single one."""
        import torch

        s = self.s
        lat, kept = self._latents(items)
        if lat is None:
            return None
        items, rows = [items[k] for k in kept], [rows[k] for k in kept]
        lat = lat.to(s.device, torch.float32) * s.scaling_factor
        full_shape = (global_batch_size, *lat.shape[1:])
        t = s.t
        noise = make_noise(torch.empty(full_shape, device=s.device), generator, noise_offset=t.noise_offset,
                           multires_iterations=t.multires_noise_iterations,
                           multires_discount=t.multires_noise_discount)
        timesteps = sample_timesteps(global_batch_size, generator, s.device, s.noise_scheduler.config.num_train_timesteps)
        noise, timesteps = take_rows(noise, rows), take_rows(timesteps, rows)
        model_noise = noise
        if t.ip_noise_gamma:  # input perturbation: extra noise in the input that the target does not know of
            extra = torch.randn(full_shape, generator=generator, device=s.device)
            model_noise = noise + t.ip_noise_gamma * take_rows(extra, rows)
        noisy = s.noise_scheduler.add_noise(lat, model_noise, timesteps)
        hidden, pooled = self._conditioning([it.caption for it in items], grad=grad and s.train_text_encoder)
        kwargs = {}
        if s.family == "sdxl":
            kwargs["added_cond_kwargs"] = {"text_embeds": pooled.to(s.weight_dtype),
                                           "time_ids": D.sdxl_time_ids(s.layout, items).to(s.device, s.weight_dtype,
                                                                                           non_blocking=True)}
        with torch.set_grad_enabled(grad):
            pred = s.unet(noisy.to(s.weight_dtype), timesteps, hidden.to(s.weight_dtype), **kwargs).sample
        target = target_for(s.noise_scheduler, lat, noise, timesteps, s.v_prediction)
        weights = [s.prior_loss_weight if s.layout.entries[it.index].is_reg else 1.0 for it in items]
        sample_weights = (torch.tensor(weights).to(s.device, non_blocking=True) if any(w != 1.0 for w in weights)
                          else None)
        return training_loss(pred, target, timesteps, t=t, alphas_cumprod=s.noise_scheduler.alphas_cumprod,
                             num_train_timesteps=s.noise_scheduler.config.num_train_timesteps,
                             snr_table=s.snr_table, v_prediction=s.v_prediction, sample_weights=sample_weights)

    def train_step(self, batch: list[int], epoch: int, batch_index: int) -> torch.Tensor | None:
        """One optimizer step on ``batch`` (indices into the layout); returns the loss, still on the
        device and not waited for (``float()`` it to read it)."""
        import torch

        s = self.s
        items = D.batch_items(batch, s.captions, s.caption_opts, seed=s.seed, epoch=epoch, batch_index=batch_index)
        gen = torch.Generator(device=s.device).manual_seed(derived_seed(s.seed, "step", self.state.global_step))
        rows = self._local_rows(len(items))
        weight = 1.0
        if not rows:  # a short batch left this process without a row: it still joins the gradient sync
            rows, weight = [0], 0.0
        loss = self._loss([items[r] for r in rows], rows, gen, len(items), grad=True)
        if loss is None:
            self.reporter.warning(f"Step {self.state.global_step + 1} had no readable image and was skipped.")
            return None
        procs = s.accelerator.num_processes
        if procs > 1:
            # DDP averages gradients over processes; weighting each local mean by its share of the
            # global batch makes that average the gradient of the global batch's mean loss.
            s.accelerator.backward(loss * (weight * len(rows) * procs / len(items)))
        else:
            s.accelerator.backward(loss)
        if s.t.max_grad_norm > 0 and s.accelerator.sync_gradients:
            s.accelerator.clip_grad_norm_(s.params, s.t.max_grad_norm)
        s.optimizer.step()
        if not s.accelerator.optimizer_step_was_skipped:
            s.lr_scheduler.step()
        s.optimizer.zero_grad(set_to_none=True)
        return loss.detach()

    def eval_loss(self, batch: list[int], seed: int = 0) -> float:
        """The loss on ``batch`` with fixed noise and timesteps (from ``seed``), captions as written,
        no mirroring and no update: a yardstick for tests and comparisons."""
        import torch

        s = self.s
        items = [D.BatchItem(i, s.captions[i], False) for i in batch]
        gen = torch.Generator(device=s.device).manual_seed(seed)
        with torch.no_grad():
            loss = self._loss(items, list(range(len(items))), gen, len(items), grad=False)
        return float(loss.item())

    # ----- the loop ---------------------------------------------------------------------------
    def current_lr(self) -> float:
        group = self.s.optimizer.param_groups[0]
        return float(group["lr"]) * float(group.get("d", 1.0))

    def fit(self, *, until_step: int | None = None) -> TrainResult:
        """Train from :attr:`state` to the end (or to ``until_step``, or until ``cancel`` is set)."""
        s = self.s
        t0 = time.time()
        # Every call opens a run in events.jsonl (a resumed run appends a new start).
        self.reporter.start(total_steps=s.total_steps, epochs=s.epochs, steps_per_epoch=s.steps_per_epoch,
                            images=s.layout.train_images, device=s.device_label)
        for hook in self.start_hooks:
            hook(self)
        stopped = False
        while self.state.global_step < s.total_steps:
            epoch = self.state.epoch
            batches = s.layout.epoch_batches(s.global_batch, s.seed, epoch)
            while self.state.step_in_epoch < len(batches) and self.state.global_step < s.total_steps:
                if self._any_process(self.cancel.is_set()) or (until_step is not None
                                                                and self.state.global_step >= until_step):
                    stopped = True
                    break
                bi = self.state.step_in_epoch
                loss = self.train_step(batches[bi], epoch, bi)
                self.state.global_step += 1
                self.state.step_in_epoch += 1
                self._speed.tick()
                if loss is not None:
                    self.pending.add(self._facts(), loss)
                if self.pending.due():
                    self._read_losses()
            self._read_losses()  # before the epoch's save, a stop or the end
            if stopped:
                break
            last = self.state.global_step >= s.total_steps
            if not last:
                self.state.epoch += 1
                self.state.step_in_epoch = 0
                self._end_epoch(epoch + 1)
        if stopped:
            return TrainResult(None, self.state.global_step, self.state.epoch, time.time() - t0, list(self.files),
                               stopped=True, loss=self.last_loss, warnings=list(self.reporter.warnings))
        final = self.save(s.project.final_file(), epoch=self.state.epoch + 1)
        self.state.epoch += 1
        self.state.step_in_epoch = 0
        for hook in self.epoch_end_hooks:
            hook(self, self.state.epoch, True)
        seconds = time.time() - t0
        self.reporter.done(path=final, steps=self.state.global_step, seconds=seconds)
        return TrainResult(final, self.state.global_step, self.state.epoch, seconds, list(self.files),
                           loss=self.last_loss, warnings=list(self.reporter.warnings))

    def _any_process(self, flag: bool) -> bool:
        """``flag`` on any process (DDP): every process must stop at the same step or the others hang."""
        acc = self.s.accelerator
        if acc.num_processes == 1:
            return flag
        import torch

        return bool(acc.reduce(torch.tensor([float(flag)], device=acc.device), reduction="sum").item() > 0)

    def _read_losses(self) -> None:
        """Report every pending step with its loss (one host sync); stop at the first NaN, on every process."""
        read = self.pending.read()
        bad = first_bad([value for _, value in read])
        for facts, value in read if bad is None else read[:bad + 1]:
            self.last_loss = value
            self._report(facts, value)
        if self._any_process(bad is not None):
            step = read[bad][0].step if bad is not None else self.state.global_step
            raise TrainingDiverged.from_notice(self._diverged("the loss", step=step))

    def _diverged(self, what: str, step: int | None = None) -> Notice:
        s = self.s
        return diverged_message(what=what, step=self.state.global_step if step is None else step,
                                epoch=self.state.epoch + 1,
                                settings=s.settings, family=s.family, mixed_precision=s.mixed_precision,
                                last_good=str(self.files[-1]) if self.files else None)

    def _facts(self) -> StepFacts:
        """The step just queued, as its event will say it."""
        speed = self._speed.it_per_s
        remaining = self.s.total_steps - self.state.global_step
        return StepFacts(step=self.state.global_step, epoch=self.state.epoch + 1, lr=self.current_lr(),
                         it_per_s=speed, eta_s=remaining / speed if speed else None)

    def _report(self, facts: StepFacts, loss: float) -> None:
        s = self.s
        avg = self._losses.add(loss)
        self.reporter.step(step=facts.step, total=s.total_steps, epoch=facts.epoch, epochs=s.epochs, loss=loss,
                           avg_loss=avg, lr=facts.lr, it_per_s=facts.it_per_s, eta_s=facts.eta_s)

    def _end_epoch(self, finished: int) -> None:
        every = self.s.settings.output.save_every_n_epochs
        if every > 0 and finished % every == 0:
            self.save(self.s.project.epoch_file(finished), epoch=finished)
        for hook in self.epoch_end_hooks:
            hook(self, finished, False)

    # ----- saving -----------------------------------------------------------------------------
    def lora_tensors(self, precision: str | None = None) -> dict[str, torch.Tensor]:
        return kohya_state_dict(self.s.modules, precision or self.s.settings.output.save_precision)

    def save(self, path: Path, *, epoch: int) -> Path:
        """Write the LoRA as it is now (kohya format, atomic) and emit a ``save`` event."""
        if not self.s.accelerator.is_main_process:
            return path
        meta = per_save_metadata(self.s.metadata, epoch=epoch, step=self.state.global_step, finished_at=time.time())
        tensors = self.lora_tensors()
        if not tensors_finite(tensors):  # never overwrite a good file with NaN (or fp16-overflowed) weights
            precision = self.s.settings.output.save_precision
            raise TrainingDiverged.from_notice(self._diverged(f"the LoRA weights (saved as {precision})"))
        try:
            save_lora(path, tensors, meta)
        except OSError as exc:
            raise UserError(f"Cannot write {path} ({exc.strerror or exc})",
                            Fix("{} or fix the folder's permissions, then train again", FreeDisk(str(path.parent)))) \
                from None
        self.files.append(path)
        self.reporter.save(epoch=epoch, step=self.state.global_step, path=path)
        return path
