"""Follows a project's training run from its files: logs/events.jsonl, logs/train.log, and the job's
lock and record in state/ (through :func:`tui_lora.core.jobs.job_status`, a real pid check).

:class:`RunMonitor` is polled by the training screen's reader thread. Each :meth:`poll`
returns a new immutable :class:`Snapshot` only when something changed, so an idle run
costs no redraw at all and a burst of step events becomes one redraw (the screen's message
also collapses queued snapshots, toolong-style). No textual here.
"""

from __future__ import annotations

import dataclasses
import re
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from tui_lora.core.events import EventTail, RunSummary
from tui_lora.core.jobs import JobStatus, job_status

SMOOTHING = 0.1  # EMA weight of the newest loss: steps are noisy, the trend is what matters
MAX_POINTS = 400  # the sparkline is at most ~80 columns; more points only cost time
LOG_LINES = 200
LOG_READ_BYTES = 64 * 1024
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@dataclass(frozen=True)
class Earlier:
    """What a new run would replace: the previous run's logs, its resume point, LoRA files in output/."""

    logs: bool = False
    resume_step: int | None = None
    resume_epoch: int | None = None  # see resume_epoch()
    files: int = 0  # output/<output_name>.safetensors and <output_name>-*.safetensors there now

    def __bool__(self) -> bool:
        return self.logs or self.resume_step is not None or self.files > 0


def earlier_results(project, status: JobStatus) -> Earlier:
    logs = status.state != "none" or _nonempty(project.events_path) or _nonempty(project.train_log_path)
    name, out = project.output_name, Path(project.output_dir)
    # Only the names a run writes (final, -NNNNNN epochs, -stepN on a stop): -best.safetensors stays.
    ours = re.compile(re.escape(name) + r"(-\d+|-step\d+)?\.safetensors")
    files = sum(1 for p in out.glob(f"{name}*.safetensors") if ours.fullmatch(p.name))
    return Earlier(logs, status.resume_step, resume_epoch(status), files)


def resume_epoch(status: JobStatus) -> int | None:
    """The epoch of the resume step, as the status line numbered it while training ("epoch 2/12 · step 7").
    The record counts epochs *done*: a stop mid-epoch saves at the current step (the run's last step
    event says its epoch); any other checkpoint is written at an epoch's end, where the two agree."""
    if status.resume_step is None or status.resume_epoch is None:
        return None
    s = status.summary
    if s.step == status.resume_step and s.epoch:
        return s.epoch
    return status.resume_epoch


def _nonempty(path) -> bool:
    try:
        return Path(path).stat().st_size > 0
    except OSError:
        return False


@dataclass(frozen=True)
class Snapshot:
    summary: RunSummary
    smoothed: tuple[float, ...]
    log_lines: tuple[str, ...]
    status: JobStatus  # running / stopped / finished / failed / none, from the lock and state/state.json
    earlier: Earlier = Earlier()  # what a new run would replace; empty while one is going on
    version: int = 0

    @property
    def running(self) -> bool:
        return self.status.running


class RunMonitor:
    """Reads what the trainer appended since the last poll."""

    def __init__(self, project) -> None:
        self.project = project
        self.events_path = Path(project.events_path)
        self.log_path = Path(project.train_log_path)
        self._tail = EventTail(self.events_path)
        self._summary = RunSummary()
        self._ema: list[float] = []
        self._file_id: tuple[int, int] | None = None
        self._log_id: tuple[int, float] | None = None
        self._log: deque[str] = deque(maxlen=LOG_LINES)
        self._job: tuple | None = None
        self._version = 0

    @property
    def running(self) -> bool:
        """Whether the last poll found the run going on."""
        return bool(self._job and self._job[0] == "running")

    def poll(self) -> Snapshot | None:
        """A snapshot when the run changed since the last poll, else None."""
        changed = self._reset_if_replaced()
        new = self._tail.read_new()
        for ev in new:
            self._summary.feed(ev)
            if ev.get("event") == "step" and isinstance(ev.get("loss"), (int, float)):
                loss = float(ev["loss"])
                prev = self._ema[-1] if self._ema else loss
                self._ema.append(prev + SMOOTHING * (loss - prev))
        changed |= bool(new)
        changed |= self._read_log()
        status = job_status(self.project, self._summary)
        job = (status.state, status.pid, status.resumable, status.resume_step, status.resume_epoch, status.message)
        changed |= job != self._job
        self._job = job
        if not changed:
            return None
        self._version += 1
        summary = _copy(self._summary)
        status = dataclasses.replace(status, summary=summary, files=list(status.files))
        return Snapshot(
            summary=summary,
            smoothed=tuple(downsample(self._ema, MAX_POINTS)),
            log_lines=tuple(self._log),
            status=status,
            # Only an idle run's Start over asks about it: no directory scan on every step of a live one.
            earlier=Earlier() if status.running else earlier_results(self.project, status),
            version=self._version,
        )

    def _reset_if_replaced(self) -> bool:
        """A new run may replace events.jsonl: start the summary afresh when the file shrank or changed."""
        try:
            st = self.events_path.stat()
        except FileNotFoundError:
            gone = self._file_id is not None
            if gone:
                self._start_over()
            return gone
        ident = (st.st_ino, st.st_size)
        replaced = self._file_id is not None and (ident[0] != self._file_id[0] or ident[1] < self._file_id[1])
        self._file_id = ident
        if replaced:
            self._start_over()
        return replaced

    def _start_over(self) -> None:
        self._tail = EventTail(self.events_path)
        self._summary = RunSummary()
        self._ema = []
        self._file_id = None

    def _read_log(self) -> bool:
        try:
            st = self.log_path.stat()
        except FileNotFoundError:
            had = bool(self._log)
            self._log.clear()
            self._log_id = None
            return had
        ident = (st.st_size, st.st_mtime)
        if ident == self._log_id:
            return False
        self._log_id = ident
        with open(self.log_path, "rb") as fh:
            fh.seek(max(0, st.st_size - LOG_READ_BYTES))
            data = fh.read()
        self._log.clear()
        self._log.extend(log_lines(data.decode("utf-8", "replace"), partial_first=st.st_size > LOG_READ_BYTES))
        return True


def log_lines(text: str, *, partial_first: bool = False) -> list[str]:
    """The lines a terminal would show: progress bars redrawn with ``\\r`` keep only their last state."""
    lines = text.split("\n")
    if partial_first and lines:
        lines = lines[1:]
    if lines and lines[-1] == "":
        lines.pop()
    out = []
    for line in lines:
        line = _ANSI.sub("", line).rstrip("\r")
        if "\r" in line:
            line = line.rsplit("\r", 1)[-1]
        out.append(line.expandtabs(4))
    return out


def downsample(values: list[float], n: int) -> list[float]:
    """At most ``n`` points, each the mean of an equal share of ``values``."""
    if len(values) <= n:
        return list(values)
    out = []
    for i in range(n):
        a, b = len(values) * i // n, len(values) * (i + 1) // n
        chunk = values[a:b]
        out.append(sum(chunk) / len(chunk))
    return out


def _copy(s: RunSummary) -> RunSummary:
    """A copy the UI thread may keep while the reader thread goes on feeding its own."""
    c = RunSummary(**{k: v for k, v in vars(s).items() if k not in ("saves", "samples", "warnings", "losses")})
    c.saves, c.samples, c.warnings = list(s.saves), list(s.samples), list(s.warnings)
    c.losses = []  # the raw curve stays in the reader thread; the UI draws the smoothed one
    return c

