"""Pick one image to edit the caption of: the images carrying a tag, with the start of each caption."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from tui_lora.core.safepath import printable
from tui_lora.tui.common.dialog import Dialog

LINE_WIDTH = 70  # the dialog's inner width at 80 columns


class CaptionPicker(Dialog):
    """Dismisses with the image's Path. ``images`` are (image, tags) pairs."""

    KEYS_TEXT = "↑/↓ choose · enter edit its caption · esc cancel"

    DEFAULT_CSS = """
    CaptionPicker OptionList {
        height: auto;
        max-height: 14;
    }
    """

    def __init__(self, title: str, root: Path, images: list[tuple[Path, list[str]]]) -> None:
        super().__init__()
        self.TITLE_TEXT = title
        self.root = root
        self.images = images

    def compose_dialog(self) -> ComposeResult:
        options = []
        for i, (image, tags) in enumerate(self.images):
            t = Text(no_wrap=True, overflow="ellipsis")
            t.append(_rel(image, self.root), style="bold")
            t.append("  " + (printable(", ".join(tags)) or "(no caption)"), style="dim")
            t.truncate(LINE_WIDTH, overflow="ellipsis")  # one line per image (OptionList would wrap)
            options.append(Option(t, id=str(i)))
        yield OptionList(*options, id="picker", compact=True)

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(self.images[int(event.option_id or 0)][0])

    def action_apply(self) -> None:
        picker = self.query_one(OptionList)
        if picker.highlighted is not None:
            self.dismiss(self.images[picker.highlighted][0])


def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root / "dataset").as_posix()
    except ValueError:
        return str(path)
