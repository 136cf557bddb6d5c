"""The Fetch screen's download: ^d reads the form, then the BooruSession downloads up to Limit posts into
the dataset folder in an exclusive thread worker (each file checked against the site's md5, captions
from the tags), reporting :class:`FetchProgress` for the progress line; esc cancels within a moment,
leaving unfinished files as hidden ``.part`` files that the next download resumes. The outcome goes to
the status line and a notification, and the form is remembered. A mixin of FetchScreen (screen.py),
kept apart so that screen stays about the form and the search.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from textual import work
from textual.message import Message
from textual.widgets import Static
from textual.worker import Worker, WorkerState

from tui_lora.core.errors import UserError
from tui_lora.tui.common.fixes import say
from tui_lora.tui.fetch import fetchform
from tui_lora.tui.fetch.booru_session import Outcome
from tui_lora.tui.fetch.fetch_text import outcome_lines, progress_line


class FetchProgress(Message):
    """Listing or download progress; only the newest matters (a burst is one redraw)."""

    def __init__(self, kind: str, progress: Any) -> None:
        super().__init__()
        self.kind, self.progress = kind, progress

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, FetchProgress)


class DownloadActions:
    """Needs the screen's ``form``, ``downloading``, ``_download_cancel``, ``session``, ``project``,
    ``_query``, ``_folder_note``, ``_status``, ``action_leave_field``, ``query_one``, ``notify`` and
    ``refresh_bindings``."""

    def action_download(self) -> None:
        if self.downloading:
            self.notify("A download is running; esc cancels it.")
            return
        try:
            query, creds, _ = self._query()
            limit = fetchform.parse_limit(self.form.limit)
            folder = fetchform.resolve_folder(self.project, self.form.folder, create=True)
        except UserError as exc:
            self._status(say(exc, self.STEP_ID), error=True)
            self.notify(say(exc, self.STEP_ID), severity="error", markup=False)
            return
        self.downloading = True
        self.action_leave_field()  # keys typed while it runs (3 Review …) act on the screen, not in a field
        self.refresh_bindings()
        self._download_cancel = threading.Event()
        self._status(f"Fetching up to {limit} images into {folder.relative_to(self.project.root).as_posix()}/ "
                     "(esc cancels)…")
        self.download(query, creds, self.form.base_url, limit, folder, self._download_cancel)

    def action_cancel(self) -> None:
        if self.downloading:
            self._download_cancel.set()
            self._status("Cancelling: finishing the file being written…")

    @work(thread=True, exclusive=True, group="download", exit_on_error=False)
    def download(self, query, creds, base_url: str, limit: int, folder: Path, cancel: threading.Event) -> Outcome:
        return self.session.fetch(query, creds, base_url, limit, folder, cancel=cancel,
                                  caption_extension=self.project.settings["dataset"]["caption_extension"],
                                  progress=lambda kind, p: self.post_message(FetchProgress(kind, p)))

    def on_fetch_progress(self, message: FetchProgress) -> None:
        if not self.downloading:
            return
        bar = self.query_one("#fetch-progress", Static)
        if not bar.display:
            bar.display = True
        bar.update(progress_line(message.kind, message.progress, bar.content_size.width or 76), layout=False)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "download" or event.state not in (WorkerState.SUCCESS, WorkerState.ERROR,
                                                                    WorkerState.CANCELLED):
            return
        self.downloading = False
        self.refresh_bindings()
        self.query_one("#fetch-progress").display = False
        self._folder_note()
        if event.state == WorkerState.SUCCESS:
            self._finished(event.worker.result)

    def worker_failed(self, worker: Worker, error: BaseException) -> bool:
        if worker.group == "download" and isinstance(error, UserError):
            message = say(error, self.STEP_ID)
            self._status(message, error=True)
            self.notify(message, severity="error", timeout=10, markup=False)
            return True
        return False

    def _finished(self, outcome: Outcome) -> None:
        rel = outcome.folder.relative_to(self.project.root).as_posix()
        lines, ok = outcome_lines(outcome.collection, outcome.report, rel)
        self._status(" ".join(lines), error=not ok)
        self.notify(lines[0], title="Fetch", severity="information" if ok else "warning", markup=False)
        fetchform.save_memory(self.project.root, self.form)
