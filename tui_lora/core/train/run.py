"""Train a project in this process: what ``tui-lora train DIR`` (and the detached job) runs."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any

from tui_lora.core.errors import Fix, Namer, Notice, OperationFailed, RunAction, UserError, neutral_name
from tui_lora.core.events import EventWriter
from tui_lora.core.train.checkpoint import StateKeeper, main_process_by_env
from tui_lora.core.train.progress import Reporter
from tui_lora.core.train.record import check_resume, merge_overrides, read_record, update_record
from tui_lora.core.train.sampling import TrainingSampler
from tui_lora.core.train.trainer import Trainer, TrainResult

if TYPE_CHECKING:
    from tui_lora.core.project import Project
    from tui_lora.core.train.model import BaseModel
    from tui_lora.core.train.record import RunRecord
    from tui_lora.core.train.latents import LatentShare


def make_reporter(project: Project, *, stream: IO[str] | None = None,
                  on_event: Callable[[dict[str, Any]], None] | None = None,
                  quiet: bool = False, log: IO[str] | None = None, name: Namer = neutral_name) -> Reporter:
    if not main_process_by_env():
        # Under a multi-GPU launcher only the main process writes events and prints progress.
        return Reporter(EventWriter(project.events_path, enabled=False), stream=open(os.devnull, "w"), quiet=True)
    return Reporter(EventWriter(project.events_path), stream=stream, on_event=on_event, quiet=quiet, log=log, name=name)


def train_project(project: Project, *, overrides: list[str] | None = None, stream: IO[str] | None = None,
                  cancel: threading.Event | None = None, on_event: Callable[[dict[str, Any]], None] | None = None,
                  device: str | None = None, base_model: BaseModel | None = None, quiet: bool = False,
                  resume: bool = False, gpus: int = 1, log: IO[str] | None = None,
                  name: Namer = neutral_name, latents: LatentShare | None = None) -> TrainResult:
    """Train ``project`` (with ``--set`` style ``overrides``) to the end; events go to logs/events.jsonl.

    ``resume`` continues from state/ (the run's own overrides are reused; new ones are added).
    State is checkpointed after every epoch; when ``cancel`` is set the run stops after the current
    step, saves the LoRA and the state, and returns a result with ``stopped``. Failures end with an
    ``error`` event and are raised: a :class:`UserError` for anything the user can fix (one
    sentence; NaN and out-of-memory included), KeyboardInterrupt for a hard interrupt. ``name``
    names the steps of the warnings' fixes (printed to ``stream`` and written to the events).
    ``base_model`` and ``latents`` come from earlier runs in this process (a sweep: :mod:`.reuse`).
    """
    from tui_lora.core.quiet import silence_third_party

    silence_third_party()  # before torch, peft or an optimizer imports bitsandbytes
    overrides = list(overrides or [])
    record = read_record(project) if resume else None
    if record is not None:
        overrides = merge_overrides(record.overrides, overrides)
    settings = project.effective_settings(overrides)
    project = project.with_settings(settings)  # --set output.output_name=… names this run's files
    notes = check_resume(project, record, settings) if resume else []  # refused before anything is written
    reporter = make_reporter(project, stream=stream, on_event=on_event, quiet=quiet, log=log, name=name)
    trainer = keeper = None
    try:
        sampler = TrainingSampler.from_settings(project, settings, reporter.warning)  # bad prompts fail here
        trainer = Trainer.create(project, settings, reporter, cancel=cancel, base_model=base_model, device=device,
                                 latents=latents)
        if sampler:
            sampler.attach(trainer)
        keeper = StateKeeper.attach(trainer, project, overrides=overrides, resume=resume, gpus=gpus)
        for note in notes:
            reporter.warning(note)
        result = trainer.fit()
        if result.stopped:
            reporter.warning(keeper.stopped(), echo=False)  # the command says it once, as its last line
        else:
            keeper.finished()
        return result
    except UserError as exc:
        _failed(project, keeper, reporter, exc)
        raise
    except KeyboardInterrupt:
        reporter.warning(_interrupted(project, keeper, trainer))
        raise
    except Exception as exc:
        from tui_lora.core.train.guards import failure_message

        notice = failure_message(exc, settings, step=trainer.state.global_step if trainer is not None else 0,
                                 family=trainer.s.family if trainer is not None else settings.project.family)
        _failed(project, keeper, reporter, OperationFailed.from_notice(
            notice or Notice(f"Training failed ({type(exc).__name__}: {exc})")))
        if notice:
            raise OperationFailed.from_notice(notice) from None
        raise


def _failed(project: Project, keeper: StateKeeper | None, reporter: Reporter, exc: UserError) -> None:
    """The run ends with an error event; its last checkpoint (from before the failure) stays."""
    reporter.error(exc.notice)
    if not main_process_by_env():
        return
    if keeper is not None:
        keeper.mark("failed", exc.notice)
    else:
        record = read_record(project)
        if record is not None and record.status == "running":
            update_record(project, status="failed", message=exc.notice)


def interrupted_message(project: Project, record: RunRecord | None, step: int) -> Notice:
    root = str(project.root)
    if record is not None and record.checkpoint:
        return Notice(f"Training was interrupted at step {step}",
                      Fix(f"{{}} continues from step {record.step}, the last saved state",
                          RunAction("train.resume", root)))
    return Notice(f"Training was interrupted at step {step}, before any state was saved",
                  Fix("start it again with {}", RunAction("train.start", root)))


def _interrupted(project: Project, keeper: StateKeeper | None, trainer: Trainer | None) -> Notice:
    """A hard interrupt (a second Ctrl-C, or a stop before training began): the last state stays valid."""
    record = keeper.record if keeper else read_record(project)
    message = interrupted_message(project, record, trainer.state.global_step if trainer else 0)
    if main_process_by_env():
        if keeper is not None:
            keeper.mark("stopped", message)
        elif record is not None and record.status == "running":
            update_record(project, status="stopped", message=message)
    return message
