"""Before tagging images that already have captions (the booru's tags, earlier runs, your edits), ask
what happens to them: add the new tags (the default), tag only the images without a caption, or
replace every caption. The same three modes as `tui-lora tag --mode append|missing|overwrite`."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from tui_lora.core.humanize import count
from tui_lora.tui.common.dialog import Dialog


def choices(images: int, captioned: int) -> list[tuple[str, str, str]]:
    """(mode, key, what it does with the counts) in the order shown; "append" first (the default)."""
    without = images - captioned
    new = f"; {count(without, 'image')} without one get{'s' if without == 1 else ''} a new caption" if without else ""
    return [
        ("append", "a", f"Add new tags: keep the {count(captioned, 'caption')} and add the tagger's tags to them{new}"),
        ("missing", "m", f"Only images without a caption: tag {count(without, 'image')}, leave the "
                         f"{count(captioned, 'caption')} as they are" if without else
                         "Only images without a caption: there are none, so nothing would be tagged"),
        ("overwrite", "r", f"Replace: all {count(images, 'image')} get only the tagger's tags; the "
                           f"{count(captioned, 'caption')} there now are replaced (u undoes it)"),
    ]


class TagModeDialog(Dialog):
    """Dismisses with "append", "missing" or "overwrite" (None: cancelled)."""

    TITLE_TEXT = "Tag images that already have captions?"
    KEYS_TEXT = "↑/↓ choose · enter tag · a / m / r pick directly · esc cancel"
    HELP_TEXT = ("The captions there now hold the booru's tags, an earlier run's or your own edits. Add new tags "
                 "keeps them and appends what the tagger finds; Only images without a caption leaves them alone; "
                 "Replace throws them away for the tagger's tags. Whichever you pick, u undoes the run. The "
                 "command line asks the same with tui-lora tag --mode append|missing|overwrite.")

    DEFAULT_CSS = """
    TagModeDialog OptionList {
        height: auto;
    }
    """

    BINDINGS = [
        Binding("a", "choose('append')", show=False),
        Binding("m", "choose('missing')", show=False),
        Binding("r", "choose('overwrite')", show=False),
    ]

    def __init__(self, images: int, captioned: int) -> None:
        super().__init__()
        self.images, self.captioned = images, captioned
        self.modes = choices(images, captioned)

    def compose_dialog(self) -> ComposeResult:
        yield Static(f"{self.captioned} of {count(self.images, 'image')} already "
                     f"{'has a caption' if self.captioned == 1 else 'have captions'}.", classes="dialog-text",
                     markup=False)
        options = []
        for mode, key, text in self.modes:
            t = Text()
            t.append(f"{key}  ", style="bold")
            t.append(text)
            options.append(Option(t, id=mode))
        yield OptionList(*options, id="tag-modes", compact=True)

    def on_mount(self) -> None:
        picker = self.query_one(OptionList)
        picker.highlighted = 0  # add new tags: nothing the user has is lost
        picker.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option_id)

    def action_choose(self, mode: str) -> None:
        self.dismiss(mode)

    def action_apply(self) -> None:
        picker = self.query_one(OptionList)
        self.dismiss(self.modes[picker.highlighted or 0][0])
