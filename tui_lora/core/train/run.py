"""Train a project in this process: what ``tui-lora train DIR`` (and later the detached job) runs."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import IO, Any

from tui_lora.core.errors import UserError
from tui_lora.core.events import EventWriter
from tui_lora.core.train.progress import Reporter
from tui_lora.core.train.sampling import TrainingSampler
from tui_lora.core.train.trainer import Trainer, TrainResult


def make_reporter(project, *, stream: IO[str] | None = None, on_event: Callable[[dict[str, Any]], None] | None = None,
                  quiet: bool = False) -> Reporter:
    return Reporter(EventWriter(project.events_path), stream=stream, on_event=on_event, quiet=quiet)


def train_project(project, *, overrides: list[str] | None = None, stream: IO[str] | None = None,
                  cancel: threading.Event | None = None, on_event: Callable[[dict[str, Any]], None] | None = None,
                  device: str | None = None, base_model=None, quiet: bool = False) -> TrainResult:
    """Train ``project`` (with ``--set`` style ``overrides``) to the end; events go to logs/events.jsonl.

    Failures end with an ``error`` event and are raised: a :class:`UserError` for anything the user
    can fix (one sentence), KeyboardInterrupt for Ctrl-C. Files already saved stay in output/.
    """
    settings = project.effective_settings(overrides or [])
    reporter = make_reporter(project, stream=stream, on_event=on_event, quiet=quiet)
    trainer = None
    try:
        sampler = TrainingSampler.from_settings(project, settings, reporter.warning)  # bad prompts fail here
        trainer = Trainer.create(project, settings, reporter, cancel=cancel, base_model=base_model, device=device)
        if sampler:
            sampler.attach(trainer)
        return trainer.fit()
    except UserError as exc:
        reporter.error(exc.message)
        raise
    except KeyboardInterrupt:
        step = trainer.state.global_step if trainer else 0
        reporter.error(f"Training was interrupted at step {step}; the files saved so far are in output/.")
        raise
    except Exception as exc:
        reporter.error(f"Training failed ({type(exc).__name__}: {exc}).")
        raise
