"""Training events (logs/events.jsonl, DESIGN.md) and a readable progress line for headless use."""

from __future__ import annotations

import collections
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from tui_lora.core.errors import Namer, Notice, neutral_name
from tui_lora.core.events import EventWriter
from tui_lora.core.humanize import duration


class Reporter:
    """Emits events and prints progress. Step lines are printed at most every ``interval`` seconds
    when stdout is not a terminal (logs/train.log stays readable); on a terminal one line is redrawn.
    ``log`` (a foreground run's logs/train.log) gets the same lines as a detached run's log would.
    ``name`` names the steps of a warning's fix (the command that trains says them in its words)."""

    def __init__(self, events: EventWriter, *, stream: IO[str] | None = None, interval: float = 5.0,
                 on_event: Callable[[dict[str, Any]], None] | None = None, quiet: bool = False,
                 log: IO[str] | None = None, name: Namer = neutral_name) -> None:
        self.name = name
        self.events = events
        self.stream = stream if stream is not None else sys.stdout
        self.log = log
        self._last_log = 0.0
        self.interval = interval
        self.on_event = on_event
        self.quiet = quiet
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last_print = 0.0
        self._line_open = False
        self._warned: set[str] = set()
        self.warnings: list[Notice] = []

    # ----- events ---------------------------------------------------------------------------
    def emit(self, event: str, **fields: Any) -> dict[str, Any]:
        record = self.events.emit(event, **fields)
        if self.on_event:
            self.on_event(record)
        return record

    def start(self, **fields: Any) -> None:
        self.emit("start", **fields)
        self.line(f"training: {fields['total_steps']} steps in {fields['epochs']} epochs "
                  f"({fields['steps_per_epoch']} per epoch, {fields['images']} images) on {fields['device']}")

    def step(self, *, step: int, total: int, epoch: int, epochs: int, loss: float, avg_loss: float, lr: float,
             it_per_s: float | None, eta_s: float | None) -> None:
        self.emit("step", step=step, epoch=epoch, loss=loss, avg_loss=avg_loss, lr=lr, it_per_s=it_per_s, eta_s=eta_s)
        now = time.monotonic()
        last = step == total
        speed = f"{it_per_s:.2f} it/s" if it_per_s else "- it/s"
        text = (f"epoch {epoch}/{epochs}  step {step}/{total}  loss {loss:.4f} (avg {avg_loss:.4f})  "
                f"lr {lr:.2e}  {speed}  eta {duration(eta_s)}")
        if self.log is not None and (last or now - self._last_log >= self.interval):
            self._last_log = now
            self._to_log(text)
        if self.quiet or not (self._tty or last or now - self._last_print >= self.interval):
            return
        self._last_print = now
        if self._tty:
            self.stream.write("\r\x1b[2K" + text)
            self._line_open = True
            if last:
                self._end_line()
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def save(self, *, epoch: int, step: int, path: Path) -> None:
        self.emit("save", epoch=epoch, step=step, path=str(path))
        self.line(f"saved {path}")

    def warning(self, message: str | Notice, *, once: str | None = None) -> None:
        notice = Notice(message) if isinstance(message, str) else message
        key = once or str(notice)
        if key in self._warned:
            return
        self._warned.add(key)
        self.warnings.append(notice)
        self.emit("warning", **notice.to_dict(self.name))
        self.line(f"warning: {notice.text(self.name)}", err=True)

    def error(self, notice: Notice) -> None:
        self.emit("error", **notice.to_dict(self.name))

    def done(self, *, path: Path, steps: int, seconds: float) -> None:
        self.emit("done", path=str(path) if path else None, steps=steps, seconds=round(seconds, 1))
        self.line(f"done: {steps} steps in {duration(seconds)}; LoRA: {path}")

    # ----- plain lines ----------------------------------------------------------------------
    def line(self, text: str, *, err: bool = False) -> None:
        self._to_log(text)
        if self.quiet and not err:
            return
        self._end_line()
        stream = sys.stderr if err and self.stream is sys.stdout else self.stream
        stream.write(text + "\n")
        stream.flush()

    def _to_log(self, text: str) -> None:
        if self.log is None:
            return
        try:
            self.log.write(text + "\n")
            self.log.flush()
        except (OSError, ValueError):
            self.log = None  # a full disk or a closed file must not end the training

    def _end_line(self) -> None:
        if self._line_open:
            self.stream.write("\n")
            self._line_open = False


class Speed:
    """Steps per second over the last ``window`` steps, ignoring the slow first step."""

    def __init__(self, window: int = 20) -> None:
        self.times: collections.deque[float] = collections.deque(maxlen=window + 1)

    def tick(self) -> None:
        self.times.append(time.perf_counter())

    @property
    def it_per_s(self) -> float | None:
        if len(self.times) < 2:
            return None
        span = self.times[-1] - self.times[0]
        return (len(self.times) - 1) / span if span > 0 else None


class LossMeter:
    """kohya's avr_loss: the mean loss over the last epoch's worth of steps."""

    def __init__(self, window: int) -> None:
        self.values: collections.deque[float] = collections.deque(maxlen=max(1, window))

    def add(self, loss: float) -> float:
        self.values.append(loss)
        return sum(self.values) / len(self.values)
