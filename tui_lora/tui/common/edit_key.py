"""`tab` into a form's fields, said in the footer.

Arriving on a step leaves the cursor out of its fields (so step keys and ? act on the screen), which
left a form's footer silent on how to type into it. A screen that mixes this in names its first field;
while the cursor is outside the fields the footer shows ``tab <LABEL>`` and tab goes to that field; in
a field tab moves to the next one as usual.
"""

from __future__ import annotations

from textual.binding import Binding


def edit_bindings(label: str) -> list[Binding]:
    # A screen's tab replaces Screen's focus_next, so the second binding keeps tab moving inside the form.
    return [Binding("tab", "edit_fields", label), Binding("tab", "app.focus_next", show=False)]


class EditFieldsKey:
    """Mixed into a WizardScreen; FIRST_FIELD is the selector of the field tab goes to."""

    FIRST_FIELD = ""

    def edit_fields_allowed(self) -> bool:
        from tui_lora.tui.common.base import is_field

        if is_field(self.focused):  # type: ignore[attr-defined]
            return False
        found = self.query(self.FIRST_FIELD)  # type: ignore[attr-defined]
        return bool(found) and found.first().display and found.first().focusable

    def action_edit_fields(self) -> None:
        if self.edit_fields_allowed():
            self.query_one(self.FIRST_FIELD).focus()  # type: ignore[attr-defined]
