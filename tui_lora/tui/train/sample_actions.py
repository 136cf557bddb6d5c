"""The Train step's latest sample image: the newest ``sample`` event's picture in the side box, loaded
by a ThumbLoader worker that answers with :class:`SampleReady`, and v shows it as large as the terminal
allows (sample_viewer.py), following newer samples while open. A mixin of TrainScreen (screen.py), kept
apart so that screen stays about the run's keys, progress and files.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import work
from textual.containers import Vertical
from textual.message import Message
from textual.worker import get_current_worker

from tui_lora.tui.common.image_preview import ImagePreview
from tui_lora.tui.common.item import Item
from tui_lora.tui.common.thumb_loader import ThumbRequest


class SampleReady(Message):
    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SampleReady)


class SampleActions:
    """Needs the screen's ``sample``, ``loader``, ``viewer``, ``query_one``, ``refresh_bindings`` and
    ``app``."""

    def action_view_sample(self) -> None:
        from tui_lora.tui.train.sample_viewer import SampleViewer

        shown = self._sample_item()
        if shown is None or self.loader is None:
            return
        self.viewer = SampleViewer(self.loader, self.want_sample, *shown)
        self.app.push_screen(self.viewer, lambda _: setattr(self, "viewer", None))

    def _show_sample(self, event: dict | None) -> None:
        if event == self.sample:
            return  # only a new sample event changes the picture, not every step
        self.sample = event
        self.refresh_bindings()
        box = self.query_one("#train-sample", Vertical)
        box.display = event is not None
        shown = self._sample_item()
        if shown is None:
            self.query_one("#sample-preview", ImagePreview).show(None, Text())
            return
        item, details, _title = shown
        box.border_title = f"sample · epoch {self.sample.get('epoch', '?')}"
        self.query_one("#sample-preview", ImagePreview).show(item, details)
        if self.viewer is not None:
            self.viewer.show(*shown)

    def _sample_item(self) -> tuple[Item, Text, str] | None:
        event = self.sample
        if event is None:
            return None
        path = Path(str(event.get("path", "")))
        # The key names this event: a new run that rewrites the same file name gets a new picture.
        item = Item(key=f"{path}#{event.get('time', '')}", path=path, name=path.name)
        return item, Text(path.name, no_wrap=True, overflow="ellipsis"), f"sample · epoch {event.get('epoch', '?')}"

    def want_sample(self, requests: list[ThumbRequest], channel: str) -> None:
        if self.loader is not None and self.loader.want(requests, channel):
            self.load_sample()

    @work(thread=True, group="sample", exit_on_error=False)
    def load_sample(self) -> None:
        worker = get_current_worker()
        assert self.loader is not None
        self.loader.run(lambda: self.post_message(SampleReady()), lambda: worker.is_cancelled)

    def on_sample_ready(self, _: SampleReady) -> None:
        assert self.loader is not None
        ready = self.loader.take_ready()
        self.query_one("#sample-preview", ImagePreview).pictures_ready(ready)
        if self.viewer is not None:
            self.viewer.pictures_ready(ready)
