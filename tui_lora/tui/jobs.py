"""The wizard's one seam to training jobs.

Every question the wizard asks about a training job goes through this module, so the jobs
issue (#4, ``tui_lora/core/jobs.py``) changes this file and nothing else:

* :func:`job_status` / :func:`running_job` answer "is a run going on for this project?".
  Until #4's pid/lock file exists the answer comes from ``logs/events.jsonl`` alone: the latest
  run has not ended (no ``done``/``error``) and the trainer wrote something recently
  (an event, or a line in ``logs/train.log``). #4 swaps :func:`is_alive` for the real pid check.
* Starting, stopping and resuming a detached job arrive with #4 as ``start_job(project, resume)``
  and ``stop_job(project)`` here; until then :data:`JOBS_AVAILABLE` is False and the training
  screen says so instead of showing buttons that cannot work.

No textual here: the functions are plain and unit-tested.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from tui_lora.core.events import RunSummary, read_events, summarize

JOBS_AVAILABLE = False
JOBS_UNAVAILABLE = (
    "Starting and stopping training from the wizard arrives with the jobs update; until then run "
    "`tui-lora train DIR` in another terminal (or tmux window) and this screen follows it live."
)
# A trainer that wrote nothing for this long is taken as gone (killed, machine rebooted).
# Generous: loading an SDXL model or caching latents can be silent for minutes.
STALE_AFTER_S = 15 * 60


@dataclass(frozen=True)
class JobStatus:
    summary: RunSummary
    last_activity: float | None  # unix time of the newest event or log line
    running: bool


def last_activity(project, summary: RunSummary) -> float | None:
    times = [t for t in (summary.updated,) if t]
    try:
        times.append(project.train_log_path.stat().st_mtime)
    except OSError:
        pass
    return max(times, default=None)


def is_alive(project, summary: RunSummary, activity: float | None, now: float | None = None) -> bool:
    """Whether the run described by ``summary`` is still going (#4 replaces this with a pid check)."""
    if summary.state != "running" or activity is None:
        return False
    return (now if now is not None else time.time()) - activity < STALE_AFTER_S


def job_status(project, summary: RunSummary | None = None, now: float | None = None) -> JobStatus:
    """The state of the project's latest run; pass ``summary`` when it is already at hand."""
    if summary is None:
        summary = summarize(read_events(project.events_path))
    activity = last_activity(project, summary)
    return JobStatus(summary, activity, is_alive(project, summary, activity, now))


def running_job(project) -> RunSummary | None:
    """The summary of a run that is going on now for ``project``, or None."""
    status = job_status(project)
    return status.summary if status.running else None
