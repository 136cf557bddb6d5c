"""The Fetch step: search a booru with a live result count, preview the first posts, and download
them (tags as captions) into a dataset folder with progress, rate, ETA and Cancel.

Searching waits for a pause in typing (SEARCH_DELAY_S) and runs in one exclusive thread worker:
a newer search cancels the older one's requests, and answers carry a sequence number so a late
one is dropped. One client per (site, base URL, account) keeps the site's rate limit across
searches and the download. Cancelling a download stops it within a moment; unfinished files
stay hidden ``.part`` files (resumed by the next download), never half-written images. The live
search lives in search_actions.py, the download in download_actions.py and the search's pictures in
pictures.py; this module keeps the form.
"""

from __future__ import annotations

import threading

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.timer import Timer
from textual.widgets import Checkbox, Input, Select, Static

from tui_lora.core.dataset.folders import list_images
from tui_lora.core.errors import UserError
from tui_lora.core.humanize import count
from tui_lora.tui.common.base import WizardScreen
from tui_lora.tui.common.edit_key import EditFieldsKey, edit_bindings
from tui_lora.tui.common.field import Field, FieldInput, FieldSelect, show_line, text_input
from tui_lora.tui.fetch import fetchform
from tui_lora.tui.fetch.account_fields import AccountFields
from tui_lora.tui.fetch.booru_preview import BooruPreview
from tui_lora.tui.common.thumb_loader import ThumbLoader
from tui_lora.tui.fetch.booru_session import BooruSession
from tui_lora.tui.fetch.download_actions import DownloadActions
from tui_lora.tui.common.fixes import say
from tui_lora.tui.fetch.pictures import FetchPictures
from tui_lora.tui.fetch.preview_strip import PreviewStrip
from tui_lora.tui.fetch.search_actions import SearchActions


class FetchScreen(SearchActions, DownloadActions, FetchPictures, EditFieldsKey, WizardScreen):
    STEP_ID = "fetch"
    HELP_TITLE = "Fetch"
    HELP_INTRO = ("Search a booru and download the images with their tags as captions. The count "
                  "updates a moment after you stop typing; the pictures and the table show the first results "
                  "(the site's own thumbnails, fetched at the same pace as downloads and kept in the project's "
                  ".cache/booru-previews/). ^d "
                  "downloads into the dataset folder: each file is checked against the site's md5, "
                  "and esc cancels without leaving half-written files (Download again resumes). "
                  "What you type here is remembered for the project; the API key only in the "
                  "credentials file, readable only by you.")
    HELP_ITEMS = ("fetch_tags", "fetch_source", "fetch_account", "fetch_rating", "fetch_min_score",
                  "fetch_order", "fetch_limit", "fetch_folder", "fetch_base_url")

    DEFAULT_CSS = """
    FetchScreen #fetch-form {
        height: auto;
        padding: 0 1;
    }
    FetchScreen #fetch-form > Horizontal {
        height: auto;
    }
    FetchScreen #fetch-count {
        height: auto;
        max-height: 4;
        padding: 0 1;
    }
    FetchScreen #fetch-count.-error {
        color: $error;
    }
    FetchScreen #preview {
        margin: 0 1;
    }
    FetchScreen #fetch-progress {
        height: 1;
        padding: 0 1;
    }
    FetchScreen #fetch-status {
        height: auto;
        max-height: 4;
        padding: 0 1;
        color: $text-muted;
    }
    FetchScreen #fetch-status.-error {
        color: $error;
    }
    """

    BINDINGS = [
        Binding("ctrl+d", "download", "Download", priority=True),
        # A subclass's key replaces the base's: both escapes are listed; check_action picks one.
        Binding("escape", "back", "Back"),
        Binding("escape", "cancel", "Cancel download"),
        Binding("ctrl+r", "search_now", "Search now", show=False, priority=True),
        *edit_bindings("Edit search"),
    ]
    FIRST_FIELD = "#tags"

    def __init__(self) -> None:
        super().__init__()
        self.form = fetchform.load_memory(self.project.root)
        if not self.form.folder and self.project.concepts():
            self.form.folder = self.project.concepts()[0].folder
        self.result = None  # the newest SearchResult on screen
        self.downloading = False
        self._seq = 0
        self._timer: Timer | None = None
        self._search_cancel: threading.Event | None = None
        self._download_cancel = threading.Event()
        self.session = BooruSession(cache_dir=self.project.cache_dir / "booru-previews")
        self.loader = ThumbLoader(self.project, capacity=3 * 8)
        self._bad_numbers: set[str] = set()  # number fields whose error the status line shows

    # ----- layout ----------------------------------------------------------------------------------
    def compose_body(self) -> ComposeResult:
        f = self.form
        yield Static("", classes="screen-title", id="fetch-title", markup=False)
        with Vertical(id="fetch-form"):
            yield Field("Tags", FieldInput(f.tags, id="tags", placeholder="e.g. hakurei_reimu solo -monochrome",
                                           compact=True, select_on_focus=False, pass_question_mark=True),
                        label_width=10)
            with Horizontal():
                yield Field("Source", _select("source", fetchform.SOURCE_CHOICES, f.source), label_width=10)
                yield Field("Rating", _select("rating", fetchform.RATING_CHOICES, f.rating), label_width=8)
            with Horizontal():
                yield Field("Min score", text_input("min_score", f.min_score, placeholder="any", numeric=True),
                            label_width=10)
                yield Field("Order", _select("order", fetchform.ORDER_CHOICES, f.order), label_width=7)
                yield Field("Limit", text_input("limit", f.limit, numeric=True), label_width=7)
            with Horizontal():
                yield Field("Folder", text_input("folder", f.folder, placeholder="e.g. 10_reimu"), label_width=10)
                yield Field("Base URL", text_input("base_url", f.base_url), label_width=10)
            account = AccountFields(id="account")
            account.base_url = f.base_url  # saved accounts belong to one site address
            yield account
        yield Static("", id="fetch-count", markup=False)
        yield PreviewStrip(self.loader, self.want_pictures, id="pictures")
        yield BooruPreview(id="preview")
        yield Static("", id="fetch-progress")
        yield Static("", id="fetch-status", markup=False)

    def on_mount(self) -> None:
        self.query_one("#fetch-progress").display = False
        self._source_changed_ui()
        self._folder_note()
        self._schedule_search(delay=0.0)
        if not self.form.tags.strip():
            self.query_one("#tags", Input).focus()  # nothing to search yet: a form to fill first

    def on_screen_resume(self) -> None:
        # Steps may have renamed dataset/10_x to 4_x meanwhile: follow it rather than make 10_x again.
        field = self.query_one("#folder", Input)
        moved = fetchform.renamed_concept(self.project, field.value)
        if moved is not None:
            field.value = moved
        self._folder_note()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "back":
            return not self.downloading
        if action == "cancel":
            return self.downloading
        if action == "edit_fields":
            return not self.downloading and self.edit_fields_allowed()
        return True

    # ----- reading the form ------------------------------------------------------------------------
    def _read_form(self) -> fetchform.FetchForm:
        f = self.form  # (the source is read last: the Base URL field belongs to the source shown)
        f.tags = self.query_one("#tags", Input).value
        f.min_score = self.query_one("#min_score", Input).value
        f.limit = self.query_one("#limit", Input).value
        f.folder = self.query_one("#folder", Input).value
        f.base_url = self.query_one("#base_url", Input).value.strip()
        for name in ("source", "rating", "order"):
            value = self.query_one(f"#{name}", Select).value
            setattr(f, name, "" if value is Select.BLANK else str(value))
        return f

    def _query(self):
        """(query, credentials, where the credentials came from) or a UserError."""
        f = self._read_form()
        account = self.query_one(AccountFields)
        creds, origin = fetchform.credentials(f.source, account.user_id, account.api_key, f.base_url)
        return fetchform.build(f, authenticated=creds is not None), creds, origin

    @on(Input.Changed)
    def _input_changed(self, event: Input.Changed) -> None:
        name = event.input.id or ""
        if name == "folder":
            self._folder_note()
            return
        if name in ("min_score", "limit"):
            self._number_note(name)
        if name == "base_url":
            self.query_one(AccountFields).base_url = event.value.strip()
        if name != "limit":
            self._schedule_search()

    @on(Select.Changed)
    def _select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "source" and event.value != self.form.source:
            self._read_form()  # keeps the old site's Base URL, then shows the new site's
            self.query_one("#base_url", Input).value = self.form.base_url
            self._source_changed_ui()
        self._schedule_search()

    def _number_note(self, name: str) -> None:
        # Three fields share the row: a sentence under one would wrap into five lines, so it goes
        # to the status line and the field turns red.
        control = self.query_one(f"#{name}", Input)
        try:
            (fetchform.parse_min_score if name == "min_score" else fetchform.parse_limit)(control.value)
        except UserError as exc:
            control.add_class("-invalid")  # (Input itself clears it on the next change)
            self._bad_numbers.add(name)
            self._status(say(exc, self.STEP_ID), error=True)
        else:
            if name in self._bad_numbers:
                self._bad_numbers.discard(name)
                self._status("")

    def _source_changed_ui(self) -> None:
        from tui_lora.core.registry.boorus import SITES

        source = self.form.source
        site = SITES.get(source)
        self.query_one("#base_url", Input).placeholder = f"{site.base_url if site else ''} (default)"
        self.query_one(AccountFields).set_source(source)

    @on(Checkbox.Changed, "#remember")
    def _remember_changed(self) -> None:
        self._schedule_search()

    @on(Input.Submitted)  # (search_actions.py; Textual finds @on handlers only on the screen's own class)
    def _submitted(self) -> None:
        self.action_search_now()  # (and the cursor leaves the field: WizardScreen)

    def _status(self, text: str, *, error: bool = False) -> None:
        show_line(self.query_one("#fetch-status", Static), text, error=error)

    def _folder_note(self) -> None:
        title = self.query_one("#fetch-title", Static)
        field = self.query_one("#field-folder", Field)
        try:
            folder = fetchform.resolve_folder(self.project, self.query_one("#folder", Input).value, create=False)
        except UserError as exc:
            field.set_note(say(exc, self.STEP_ID), "error")
            title.update("Fetch images")
            return
        field.set_note()
        rel = folder.relative_to(self.project.root).as_posix()
        n = len(list_images(folder))
        title.update(f"Fetch images into {rel}/ · " + (f"{count(n, 'image')} there" if folder.is_dir() else "a new folder"))

    # ----- leaving ---------------------------------------------------------------------------------
    def commit(self) -> None:
        if self.is_mounted:
            self._read_form()
        fetchform.save_memory(self.project.root, self.form)


def _select(select_id: str, choices: tuple[tuple[str, str], ...], value: str) -> Select:
    values = [v for _, v in choices]
    return FieldSelect(list(choices), id=select_id, compact=True, allow_blank=False,
                  value=value if value in values else values[0])
