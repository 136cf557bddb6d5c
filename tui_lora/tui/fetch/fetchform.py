"""The Fetch screen's form as plain data: reading it into a booru query, credentials and a dataset
folder, and remembering it per project (core's errors name their fix as data; tui/common/fixes.py says it
in the wizard's words).

No textual here (like core/): the screen fills a :class:`FetchForm` from its widgets and calls
these functions, some of them from worker threads.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING

from tui_lora.core.dataset.folders import concept_folder_for, parse_concept_folder
from tui_lora.core.errors import UserError
from tui_lora.core.registry.boorus import DEFAULT_SOURCE, SITES, wizard_order

if TYPE_CHECKING:
    from tui_lora.core.booru import Credentials, Query

MEMORY_FILE = "wizard-fetch.toml"  # in the user's config folder; never holds credentials
MAX_LIMIT = 5000

# (label, value for build_query's rating=): the combinations people use, safest first.
RATING_CHOICES: tuple[tuple[str, str], ...] = (
    ("any", ""),
    ("general", "general"),
    ("general+sensitive", "general,sensitive"),
    ("sensitive", "sensitive"),
    ("questionable", "questionable"),
    ("quest.+explicit", "questionable,explicit"),
    ("explicit", "explicit"),
)
# The sites of the booru registry, those without an account first.
SOURCE_CHOICES: tuple[tuple[str, str], ...] = tuple((s.title, s.name) for s in wizard_order())
ORDER_CHOICES: tuple[tuple[str, str], ...] = (("newest", "newest"), ("best score", "score"))
# What the two credential fields are called on each site that takes an account.
ACCOUNT_LABELS = {s.name: (s.user_label, s.key_label) for s in SITES.values() if s.takes_account}
# Remembered for a new project too (not its tags or folder), with every site's address.
_CARRIED = ("source", "rating", "order", "limit")


def _url_key(site: str) -> str:
    return f"{site}_url"  # the address's name in the memory file


@dataclass
class FetchForm:
    """Everything typed on the Fetch screen except credentials (which never go to this file)."""

    source: str = DEFAULT_SOURCE
    tags: str = ""
    rating: str = ""
    min_score: str = ""
    order: str = "newest"
    limit: str = "100"
    folder: str = ""
    # A mirror or self-hosted address per site of the registry; empty means the site's own.
    base_urls: dict[str, str] = field(default_factory=lambda: {name: "" for name in SITES})

    @property
    def base_url(self) -> str:
        """The address for the current source."""
        return self.base_urls.get(self.source, "")

    @base_url.setter
    def base_url(self, value: str) -> None:
        if self.source in SITES:
            self.base_urls[self.source] = value.strip()

    def to_memory(self) -> dict[str, str]:
        """The form as the memory file holds it: one ``<site>_url`` key per address."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "base_urls"}
        out.update({_url_key(site): url for site, url in self.base_urls.items()})
        return out

    @classmethod
    def from_memory(cls, saved: dict) -> FetchForm:
        form = cls(**{f.name: str(saved[f.name]) for f in fields(cls) if f.name != "base_urls" and f.name in saved})
        for site in form.base_urls:
            form.base_urls[site] = str(saved.get(_url_key(site), ""))
        return form


def parse_min_score(text: str) -> int | None:
    t = text.strip()
    if not t:
        return None
    try:
        return int(t)
    except ValueError:
        raise UserError(f"The minimum score {t!r} is not a whole number; leave it empty for any score.") from None


def parse_limit(text: str) -> int:
    t = text.strip()
    if not t:
        raise UserError("Type how many images to download as Limit, e.g. 100.")
    try:
        n = int(t)
    except ValueError:
        raise UserError(f"The limit {t!r} is not a whole number; type how many images to download, e.g. 100.") \
            from None
    if not 1 <= n <= MAX_LIMIT:
        raise UserError(f"The limit {n} is out of range; use 1 to {MAX_LIMIT} (30-100 is typical for a LoRA).")
    return n


def build(form: FetchForm, *, authenticated: bool) -> "Query":
    """The validated query (or a QueryError/UserError)."""
    from tui_lora.core import booru
    from tui_lora.core.booru.query import DANBOORU_ANON_TAG_LIMIT

    if not form.tags.strip():
        raise UserError("Type the tags to search, e.g. hakurei_reimu solo -monochrome.")
    query = booru.build_query(form.source, form.tags, rating=form.rating or None,
                              min_score=parse_min_score(form.min_score), order=form.order)
    if query.source == "danbooru" and not authenticated:
        n = query.danbooru_tag_count()
        if n > DANBOORU_ANON_TAG_LIMIT:
            raise UserError(f"Danbooru lets anonymous users search {DANBOORU_ANON_TAG_LIMIT} tags at a time and "
                            f"this search counts {n} (best-score order counts, rating and score do not); remove "
                            "some tags, or fill in Login and API key.")
    return query


def credentials(source: str, user_id: str, api_key: str, base_url: str = "") -> tuple["Credentials | None", str]:
    """The credentials to use and where they come from: "typed", "environment", "saved" or "".
    Saved ones count only for the origin of ``base_url`` (default: the site's own)."""
    from tui_lora.core import booru
    from tui_lora.core.booru.credentials import WHERE_TO_GET, env_names

    site = SITES.get(source)
    if site is None or not site.takes_account:
        return None, ""
    uid, key = user_id.strip(), api_key.strip()
    if uid or key:
        if not (uid and key):
            first, second = ACCOUNT_LABELS[source]
            missing = second if uid else first
            raise UserError(f"Type the {missing} too; both are at {WHERE_TO_GET[source]}.")
        return booru.resolve_credentials(source, user_id=uid, api_key=key), "typed"
    import os

    if any(os.environ.get(n, "").strip() for n in env_names(source)):
        return booru.resolve_credentials(source), "environment"
    saved = booru.stored_credentials(source, base_url or None)
    return saved, "saved" if saved else ""


def resolve_folder(project, name: str, *, create: bool) -> Path:
    """The dataset/<N>_<name> folder to fill: an existing folder (or concept name), or a new one."""
    concepts = project.concepts()
    name = name.strip()
    if not name:
        if concepts:
            return concepts[0].path
        hint = project.settings["project"]["trigger_word"] or "subject"
        raise UserError(f"The project has no dataset folder yet; type one as Folder, e.g. 10_{hint}.")
    return concept_folder_for(project, name, create=create)


def renamed_concept(project, name: str) -> str | None:
    """The folder ``name`` (``10_x``) is now called, when its repeats changed (``4_x``); else None."""
    parsed = parse_concept_folder(name.strip())
    if parsed is None or (project.dataset_dir / name.strip()).is_dir():
        return None
    return next((c.folder for c in project.concepts() if c.name == parsed[1]), None)


# ----- remembering the form ---------------------------------------------------------------------
def load_memory(root: Path) -> FetchForm:
    """The form as last left for this project; a new project starts from the last one's choices."""
    from tui_lora.core.userconfig import load_form, load_user_config

    saved = load_form(MEMORY_FILE, root)
    if saved is None:
        last = load_user_config(MEMORY_FILE).get("last", {})
        carried = {*_CARRIED, *map(_url_key, SITES)}
        saved = {k: v for k, v in (last if isinstance(last, dict) else {}).items() if k in carried}
    return FetchForm.from_memory(saved)


def save_memory(root: Path, form: FetchForm) -> None:
    """Remember ``form`` for this project (and as the start of the next new one); never fails."""
    from tui_lora.core.userconfig import save_form

    save_form(MEMORY_FILE, root, form.to_memory(), last=True)

