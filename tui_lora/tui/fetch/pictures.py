"""The Fetch screen's search pictures: a worker fetches the previews of the first posts (through the
session's client, cache and file pace), another loads them into pictures for the strip. A mixin of
FetchScreen (screen.py), kept apart so that screen stays about the form, the search and the download."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from textual import work
from textual.message import Message
from textual.worker import get_current_worker

from tui_lora.tui.common.thumb_loader import ThumbRequest
from tui_lora.tui.fetch.preview_strip import CELLS, PreviewStrip


class PreviewArrived(Message):
    def __init__(self, seq: int, post_id: int, path: Path | None) -> None:
        super().__init__()
        self.seq, self.post_id, self.path = seq, post_id, path


class PicturesReady(Message):
    def can_replace(self, message: Message) -> bool:
        return isinstance(message, PicturesReady)


class FetchPictures:
    """Needs ``self.session`` (BooruSession), ``self.loader`` (ThumbLoader) and ``self._seq``."""

    _picture_cancel: threading.Event | None = None

    def show_pictures(self, seq: int, posts: list[Any], source: str, base_url: str, creds) -> None:
        strip = self.query_one(PreviewStrip)
        if self._picture_cancel is not None:
            self._picture_cancel.set()  # an older search's previews are not wanted any more
        strip.show(posts)
        if posts:
            self._picture_cancel = threading.Event()
            self.fetch_previews(seq, posts[:CELLS], source, base_url, creds, self._picture_cancel)

    def clear_pictures(self) -> None:
        if self._picture_cancel is not None:
            self._picture_cancel.set()
        self.query_one(PreviewStrip).show([])

    @work(thread=True, exclusive=True, group="previews", exit_on_error=False)
    def fetch_previews(self, seq: int, posts: list[Any], source: str, base_url: str, creds,
                       cancel: threading.Event) -> None:
        self.session.previews(posts, source, base_url, creds, cancel=cancel,
                              ready=lambda post, path: self.post_message(PreviewArrived(seq, post.id, path)))

    def on_preview_arrived(self, message: PreviewArrived) -> None:
        if message.seq == self._seq:
            self.query_one(PreviewStrip).arrived(message.post_id, message.path)

    def want_pictures(self, requests: list[ThumbRequest], channel: str) -> None:
        if self.loader.want(requests, channel):
            self.load_pictures()

    @work(thread=True, group="pictures", exit_on_error=False)
    def load_pictures(self) -> None:
        worker = get_current_worker()
        self.loader.run(lambda: self.post_message(PicturesReady()), lambda: worker.is_cancelled)

    def on_pictures_ready(self, _: PicturesReady) -> None:
        self.query_one(PreviewStrip).pictures_ready(self.loader.take_ready())
