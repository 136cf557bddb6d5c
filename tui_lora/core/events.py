"""logs/events.jsonl: the training run's events, one JSON object per line.

The trainer writes; the wizard's training screen and ``tui-lora status`` only read, so a job
started headless, or by a wizard that has since closed, can be watched again at any time.
Every object has ``event`` and ``time`` (unix seconds). Kinds and their fields (DESIGN.md):

    start    total_steps, epochs, steps_per_epoch, images, device
    step     step, epoch, loss, avg_loss, lr, it_per_s, eta_s
    save     epoch, step, path
    sample   epoch, path
    warning  message
    error    message
    done     path, steps, seconds

``warning`` and ``error`` also carry ``problem`` and ``fix`` (core.errors.Notice.to_dict): the
sentence as data, so the CLI and the wizard each name its fix in their own words.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tui_lora.core.errors import Notice
from tui_lora.core.fsutil import open_append

EVENT_FIELDS: dict[str, tuple[str, ...]] = {
    "start": ("total_steps", "epochs", "steps_per_epoch", "images", "device"),
    "step": ("step", "epoch", "loss", "avg_loss", "lr", "it_per_s", "eta_s"),
    "save": ("epoch", "step", "path"),
    "sample": ("epoch", "path"),
    "warning": ("message",),
    "error": ("message",),
    "done": ("path", "steps", "seconds"),
}


class EventWriter:
    """Appends events; each line is written with one ``write`` and flushed, so readers never
    see half an object except at the very end of the file while it is being written."""

    def __init__(self, path: str | os.PathLike[str], *, enabled: bool = True) -> None:
        self.path = Path(path)
        self.enabled = enabled
        if enabled:
            self.path.parent.mkdir(parents=True, exist_ok=True)

    def emit(self, event: str, **fields: Any) -> dict[str, Any]:
        if event not in EVENT_FIELDS:
            raise ValueError(f"unknown event {event!r}")
        missing = [f for f in EVENT_FIELDS[event] if f not in fields]
        if missing:
            raise ValueError(f"event {event!r} lacks {missing}")
        record = {"event": event, "time": round(time.time(), 3), **{k: _jsonable(v) for k, v in fields.items()}}
        if self.enabled:
            line = json.dumps(record, ensure_ascii=False, allow_nan=False) + "\n"
            with open_append(self.path, encoding="utf-8") as fh:
                fh.write(line)
        return record


def _jsonable(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None  # JSON has no NaN; null says "not a number" to every reader
    if isinstance(v, Path):
        return str(v)
    if hasattr(v, "item"):  # numpy / torch scalars
        return _jsonable(v.item())
    return v


class EventTail:
    """Reads new complete lines since the last call; tolerates a half-written last line
    and a file that was truncated or replaced (a new run)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._offset = 0
        self._inode: int | None = None
        self._head = b""  # the file's first bytes: a replaced file (same inode reused) differs here

    def read_new(self) -> list[dict[str, Any]]:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return []
        with open(self.path, "rb") as fh:
            head = fh.read(len(self._head)) if self._head else b""
            if self._inode != st.st_ino or st.st_size < self._offset or head != self._head:
                self._offset, self._inode, self._head = 0, st.st_ino, b""
            if st.st_size == self._offset:
                return []
            fh.seek(self._offset)
            chunk = fh.read()
        if not self._head:
            self._head = chunk[:64]
        end = chunk.rfind(b"\n")
        if end < 0:
            return []
        self._offset += end + 1
        out = []
        for raw in chunk[: end + 1].splitlines():
            try:
                obj = json.loads(raw)
            except ValueError:
                continue
            if isinstance(obj, dict) and "event" in obj:
                out.append(obj)
        return out


def read_events(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every complete event in the file (empty when there is none)."""
    return EventTail(path).read_new()


@dataclass
class RunSummary:
    """What the latest run in an events file says, for status lines and the training screen."""

    state: str = "none"  # none | running | finished | failed
    total_steps: int = 0
    epochs: int = 0
    step: int = 0
    epoch: int = 0
    loss: float | None = None
    avg_loss: float | None = None
    lr: float | None = None
    it_per_s: float | None = None
    eta_s: float | None = None
    device: str = ""
    saves: list[dict[str, Any]] = field(default_factory=list)
    samples: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[Notice] = field(default_factory=list)
    error: Notice | None = None
    final_path: str | None = None
    started: float | None = None
    updated: float | None = None
    losses: list[float] = field(default_factory=list)

    def feed(self, ev: dict[str, Any]) -> None:
        kind = ev.get("event")
        self.updated = ev.get("time", self.updated)
        if kind == "start":
            # A resumed run appends a new start; keep saves and the loss curve, reset the state.
            self.state = "running"
            self.total_steps = int(ev.get("total_steps") or 0)
            self.epochs = int(ev.get("epochs") or 0)
            self.device = str(ev.get("device", ""))
            self.error = None
            self.final_path = None
            self.started = self.started or ev.get("time")
        elif kind == "step":
            self.step = int(ev.get("step") or 0)
            self.epoch = int(ev.get("epoch") or 0)
            for name in ("loss", "avg_loss", "lr", "it_per_s", "eta_s"):
                setattr(self, name, ev.get(name))
            if isinstance(ev.get("loss"), (int, float)):
                self.losses.append(float(ev["loss"]))
        elif kind == "save":
            self.saves.append(ev)
        elif kind == "sample":
            self.samples.append(ev)
        elif kind == "warning":
            self.warnings.append(Notice.from_dict(ev))
        elif kind == "error":
            self.state = "failed"
            self.error = Notice.from_dict(ev)
        elif kind == "done":
            self.state = "finished"
            self.final_path = ev.get("path")
            self.step = int(ev.get("steps") or self.step)


def summarize(events: list[dict[str, Any]]) -> RunSummary:
    s = RunSummary()
    for ev in events:
        s.feed(ev)
    return s
