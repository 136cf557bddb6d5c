"""The Fetch screen's live search: every change to the form schedules a search that waits for a pause in
typing (SEARCH_DELAY_S), then runs in one exclusive thread worker through the BooruSession; a newer
search cancels the older one's requests, and answers (:class:`SearchAnswered`) carry a sequence number so
a late one is dropped. The answer fills the count line, the preview table and the pictures. A mixin of
FetchScreen (screen.py), kept apart so that screen stays about the form and the download.
"""

from __future__ import annotations

import threading
from typing import Any

from rich.text import Text
from textual import work
from textual.message import Message
from textual.widgets import Input, Static
from textual.worker import get_current_worker

from tui_lora.core.errors import UserError
from tui_lora.tui.common.field import show_line
from tui_lora.tui.common.fixes import say
from tui_lora.tui.fetch.account_fields import AccountFields
from tui_lora.tui.fetch.booru_preview import BooruPreview
from tui_lora.tui.fetch.fetch_text import count_line

SEARCH_DELAY_S = 0.6  # wait this long after the last keystroke: the site is not hammered while typing


class SearchAnswered(Message):
    def __init__(self, seq: int, result: Any = None, error: str | None = None) -> None:
        super().__init__()
        self.seq, self.result, self.error = seq, result, error


class SearchActions:
    """Needs the screen's ``form``, ``result``, ``session``, ``_seq``, ``_timer``, ``_search_cancel``,
    ``_query``, ``clear_pictures``, ``show_pictures``, ``set_timer`` and ``query_one``; the screen's
    ``@on(Input.Submitted)`` handler calls ``action_search_now``."""

    def _schedule_search(self, delay: float = SEARCH_DELAY_S) -> None:
        self._seq += 1
        if self._timer is not None:
            self._timer.stop()
        if self._search_cancel is not None:
            self._search_cancel.set()
        self.query_one(AccountFields).refresh_note()
        if not self.query_one("#tags", Input).value.strip():
            self._count("Type tags to search; the count shows a moment after you stop typing.", dim=True)
            self.query_one(BooruPreview).show([])
            self.clear_pictures()
            self.result = None
            return
        try:
            self._query()
        except UserError as exc:
            self._count(say(exc, self.STEP_ID), error=True)
            self.query_one(BooruPreview).show([])
            self.clear_pictures()
            self.result = None
            return
        seq = self._seq
        # (at least a moment: Textual's timer divides by its interval when it runs late)
        self._timer = self.set_timer(max(delay, 0.01), lambda: self._start_search(seq))

    def action_search_now(self) -> None:
        self._schedule_search(delay=0.0)

    def _start_search(self, seq: int) -> None:
        if seq != self._seq:
            return
        try:
            query, creds, origin = self._query()
        except UserError as exc:
            self._count(say(exc, self.STEP_ID), error=True)
            return
        self._count("Searching…", dim=True)
        self._search_cancel = threading.Event()
        account = self.query_one(AccountFields)
        save = origin == "typed" and account.remember and not account.is_saved(creds)
        self.search(seq, query, creds, self.form.base_url, save, self._search_cancel)

    @work(thread=True, exclusive=True, group="search", exit_on_error=False)
    def search(self, seq: int, query, creds, base_url: str, save: bool, cancel: threading.Event) -> None:
        from tui_lora.core.booru.http import Cancelled

        try:
            result, saved_to = self.session.search(query, creds, base_url, save=save, cancel=cancel)
        except Cancelled:
            return
        except UserError as exc:
            if not cancel.is_set():
                self.post_message(SearchAnswered(seq, error=say(exc, self.STEP_ID)))
            return
        if not cancel.is_set() and not get_current_worker().is_cancelled:
            self.post_message(SearchAnswered(seq, result=(result, saved_to, creds)))

    def on_search_answered(self, message: SearchAnswered) -> None:
        if message.seq != self._seq:
            return  # the form changed since: a newer search is coming
        if message.error:
            self._count(message.error, error=True)
            self.query_one(BooruPreview).show([])
            self.clear_pictures()
            self.result = None
            return
        self.result, saved_to, creds = message.result
        if saved_to is not None:
            self.query_one(AccountFields).mark_saved(self.result.query.source, creds, saved_to)
        self._count(count_line(self.result))
        self.query_one(BooruPreview).show(self.result.preview)
        self.show_pictures(message.seq, self.result.preview, self.result.query.source, self.form.base_url, creds)

    def _count(self, text: str, *, error: bool = False, dim: bool = False) -> None:
        show_line(self.query_one("#fetch-count", Static), Text(text, style="dim" if dim else ""), error=error)
