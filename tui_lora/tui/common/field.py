"""A labelled one-row input with its hint or error line beneath: the wizard's form field."""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Input, Label, Static


class FieldInput(Input):
    """An Input that lets ``?`` through to the screen (for help) when ``?`` cannot be valid in it,
    and that does not blink when the app is frozen for snapshots."""

    def __init__(self, *args, pass_question_mark: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.pass_question_mark = pass_question_mark

    def on_mount(self) -> None:
        if getattr(self.app, "frozen", False):
            self.cursor_blink = False

    def check_consume_key(self, key: str, character: str | None) -> bool:
        if self.pass_question_mark and character == "?":
            return False  # so the footer keeps showing "? Help"
        return super().check_consume_key(key, character)

    def _on_key(self, event: events.Key) -> None:  # runs before Input._on_key (Textual walks the MRO)
        if self.pass_question_mark and event.character == "?":
            event.prevent_default()  # Input's own handler would type it; the screen's binding shows help


def text_input(input_id: str, value: str = "", *, placeholder: str = "", numeric: bool = False) -> FieldInput:
    """The wizard's one-row input; ``numeric`` ones let ``?`` through for help."""
    return FieldInput(value, id=input_id, placeholder=placeholder, compact=True,
                      pass_question_mark=numeric, select_on_focus=False)


class Field(Vertical):
    """``Label  [control]`` on one row, then a line for a hint (dim) or an error (red)."""

    DEFAULT_CSS = """
    Field {
        height: auto;
        width: 1fr;
    }
    Field > Horizontal {
        height: 1;
    }
    Field .field-label {
        width: 14;
        height: 1;
        color: $text-muted;
    }
    Field:focus-within .field-label {
        color: $text;
        text-style: bold;
    }
    Field > Horizontal > .field-control {
        width: 1fr;
    }
    Field .field-note {
        height: auto;
        padding-left: 14;
        color: $text-muted;
    }
    Field .field-note.-error {
        color: $error;
    }
    Field .field-note.-ok {
        color: $success;
    }
    Field .field-note.-empty {
        display: none;
    }
    """

    def __init__(self, label: str, control: Widget, *, hint: str = "", label_width: int | None = None,
                 id: str | None = None) -> None:
        super().__init__(id=id or (f"field-{control.id}" if control.id else None))
        self.label = label
        self.hint = hint
        self.control = control
        control.add_class("field-control")
        self._label_width = label_width
        self._error: str | None = None

    def compose(self) -> ComposeResult:
        with Horizontal():
            label = Label(self.label, classes="field-label", markup=False)
            if self._label_width:
                label.styles.width = self._label_width
            yield label
            yield self.control
        note = Static(self.hint, classes="field-note" if self.hint else "field-note -empty", markup=False)
        if self._label_width:
            note.styles.padding = (0, 0, 0, self._label_width)
        yield note

    @property
    def value(self) -> str:
        return str(getattr(self.control, "value", ""))

    def set_note(self, text: str = "", kind: str = "") -> None:
        """Show ``text`` under the control; kind "error", "ok" or "" (dim). Empty text shows the hint."""
        note = self.query_one(".field-note", Static)
        self._error = text if kind == "error" else None
        text = text or self.hint
        note.set_classes(f"field-note -{kind}" if kind else "field-note")
        if not text:
            note.add_class("-empty")
        note.update(text)

    @property
    def error(self) -> str | None:
        """The error shown under the field, if any."""
        return self._error


def show_line(widget: Static, text, *, error: bool = False) -> None:
    """Put ``text`` in a status or note line, unless it is already there: typing calls this on every
    key, and an unchanged line should cost no redraw (over a slow SSH link every repaint counts)."""
    key = (str(text), getattr(text, "style", None), error)
    if getattr(widget, "_shown_line", None) == key:
        return
    widget._shown_line = key  # type: ignore[attr-defined]
    widget.update(text)
    widget.set_class(error, "-error")
