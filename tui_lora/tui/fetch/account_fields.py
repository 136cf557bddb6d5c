"""Booru account fields: user id (Gelbooru) or login (Danbooru) and API key, with where to get them
(labels and notes from the booru registry, core/registry/boorus.py).

The key is typed into a password field and never shown again: saved credentials show as
"saved account (key hidden)" and stay out of the fields, so they cannot be read off the screen.
"""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Checkbox, Input, Static

from tui_lora.core.errors import UserError
from tui_lora.core.registry.boorus import DEFAULT_SOURCE, SITES
from tui_lora.tui.common.field import Field, FieldInput, show_line
from tui_lora.tui.common.format import short_path
from tui_lora.tui.fetch.fetchform import ACCOUNT_LABELS, credentials
from tui_lora.tui.common.fixes import say


class AccountFields(Vertical):
    DEFAULT_CSS = """
    AccountFields {
        height: auto;
    }
    AccountFields > Horizontal {
        height: 1;
    }
    AccountFields Checkbox {
        width: auto;
        margin-left: 1;
    }
    AccountFields #account-note {
        height: auto;
        padding-left: 10;
        color: $text-muted;
    }
    AccountFields #account-note.-error {
        color: $error;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.source = DEFAULT_SOURCE
        self.base_url = ""  # the form's Base URL: saved accounts belong to one site address
        self._saved: tuple | None = None  # (site, Credentials) saved this session, and where
        self._saved_path: Path | None = None

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Field("User id", FieldInput(id="user_id", compact=True, select_on_focus=False), label_width=10)
            yield Field("API key", FieldInput(id="api_key", compact=True, password=True, select_on_focus=False),
                        label_width=9)
            yield Checkbox("Remember", True, id="remember", compact=True)
        yield Static("", id="account-note", markup=False)

    @property
    def user_id(self) -> str:
        return self.query_one("#user_id", Input).value

    @property
    def api_key(self) -> str:
        return self.query_one("#api_key", Input).value

    @property
    def remember(self) -> bool:
        return self.query_one("#remember", Checkbox).value

    def set_source(self, source: str) -> None:
        """Label the fields for ``source`` and empty them (an account belongs to one site);
        Safebooru needs no account, so they hide."""
        changed = source != self.source
        self.source = source
        self.display = source in ACCOUNT_LABELS
        if changed:
            self.query_one("#user_id", Input).value = ""
            self.query_one("#api_key", Input).value = ""
        if source in ACCOUNT_LABELS:
            first, second = ACCOUNT_LABELS[source]
            self.query_one("#field-user_id .field-label", Static).update(first)
            self.query_one("#field-api_key .field-label", Static).update(second)
        self.refresh_note()

    def is_saved(self, creds) -> bool:
        return self._saved == (self.source, creds)

    def mark_saved(self, source: str, creds, path: Path) -> None:
        self._saved, self._saved_path = (source, creds), path
        self.refresh_note()

    def refresh_note(self) -> None:
        """Where the account comes from, or where to get one."""
        from tui_lora.core.booru import Credentials

        source = self.source
        if source not in ACCOUNT_LABELS:
            return
        if self.user_id or self.api_key:
            typed = Credentials(self.user_id.strip(), self.api_key.strip())
            if self.is_saved(typed) and self._saved_path is not None:
                self._note(f"✓ Saved to {short_path(self._saved_path)} (readable only by you).")
            elif self.remember:
                self._note("Saved once the site accepts them, in a file only you can read.")
            else:
                self._note("Used for this session only (Remember is off).")
            return
        try:
            creds, origin = credentials(source, "", "", self.base_url)
        except UserError as exc:
            self._note(say(exc, "fetch"), error=True)
            return
        from tui_lora.core.booru.credentials import withheld_note

        withheld = withheld_note(source, self.base_url or None) if creds is None else None
        if origin == "saved" and creds is not None:
            self._note(f"Using your saved account (user {creds.user_id}, key hidden); type new ones to replace it.")
        elif origin == "environment":
            self._note("Using the account from the TUI_LORA_* environment variables.")
        elif withheld:
            self._note(say(withheld, "fetch"))
        else:
            self._note(SITES[source].account_note())

    def _note(self, text: str, error: bool = False) -> None:
        show_line(self.query_one("#account-note", Static), text, error=error)
