"""The footer: the keys of the screen (and of the focused field) in one line, never cut off.

Textual's Footer clips what does not fit, so a narrow terminal silently hid keys. This one shows
the keys in order while they fit and ends with ``? more keys`` (``F1 more keys`` in a text field,
where ``?`` types) when some do not: help lists every key.
"""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.widget import Widget

GAP = "  "
# Given up first when the keys do not fit: moving between steps is also Ctrl+N/P everywhere and in help.
SPARE = ("Prev step", "Next step")


class KeyFooter(Widget):
    DEFAULT_CSS = """
    KeyFooter {
        dock: bottom;
        height: 1;
        background: $footer-background;
        color: $footer-description-foreground;
    }
    """

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, _screen) -> None:
        self.refresh()

    def keys(self) -> list[tuple[str, str, bool]]:
        """(key as shown, what it does, enabled) for every shown binding, one per action."""
        seen: set[str] = set()
        out = []
        edit = None
        for active in self.screen.active_bindings.values():
            binding: Binding = active.binding
            if not binding.show or binding.action in seen:
                continue
            seen.add(binding.action)
            out.append((self.app.get_key_display(binding), binding.description, active.enabled))
            if binding.action == "edit_fields":
                edit = out.pop()
        # tab into the form (tui/common/edit_key.py) replaces Screen's own tab, which sits first in the
        # chain: it goes after Help, so the screen's keys keep their order.
        if edit is not None:
            at = next((i + 1 for i, k in enumerate(out) if k[1] == "Help"), len(out))
            out.insert(at, edit)
        return out

    def render(self) -> Text:
        keys = self.keys()
        width = self.size.width or 80
        help_keys = [k for k in keys if k[1] == "Help"]
        line = _line(keys)
        if line.cell_len <= width:
            return line
        help_key = help_keys[0][0] if help_keys else "?"
        more = (help_key, "more keys", True)
        keys = [k for k in keys if k[1] != "Help"]
        if _line([*keys, more]).cell_len > width:
            keys = [k for k in keys if k[1] not in SPARE]
        shown: list[tuple[str, str, bool]] = []
        for k in keys:
            if _line([*shown, k, more]).cell_len > width:
                break
            shown.append(k)
        return _line([*shown, more])


def _line(keys: list[tuple[str, str, bool]]) -> Text:
    t = Text(no_wrap=True, overflow="crop")
    for i, (key, what, enabled) in enumerate(keys):
        t.append(" " if i == 0 else GAP)
        t.append(key, style="bold" if enabled else "dim")
        t.append(f" {what}", style="" if enabled else "dim")
    return t
