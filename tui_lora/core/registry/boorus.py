"""Booru sites (``tui-lora fetch --source``, the wizard's Fetch form).

Adding a site is one :class:`BooruSite` entry in :data:`SITES` plus its client class in
:mod:`tui_lora.core.booru.clients` (named by :attr:`BooruSite.client`; its ``source`` is the
entry's name). The CLI's ``--source`` help, the credential lookup, the client's defaults and the
wizard's form fields (the per-site address, the account fields and their labels, the help) all
come from the entry. No requests here: the CLI's parser reads this module.
"""

from __future__ import annotations

from typing import NamedTuple

NONE, OPTIONAL, REQUIRED = "none", "optional", "required"


class BooruSite(NamedTuple):
    name: str  # --source value, env var part (TUI_LORA_<NAME>_API_KEY) and file-name prefix
    title: str  # how the site calls itself
    base_url: str  # the default address (--base-url and the wizard's Base URL replace it)
    client: str  # the class in core/booru/clients.py
    help: str  # what the site is good for, one sentence (the wizard's Source help, --source help)
    account: str = NONE  # NONE, OPTIONAL or REQUIRED
    user_label: str = "User id"  # the wizard's label for the first credential (Gelbooru's user id, Danbooru's login)
    key_label: str = "API key"
    where_to_get: str = ""  # where an account's credentials are found
    account_help: str = ""  # the wizard's help on the account fields, for this site
    numeric_user_id: bool = False  # the user id must be a number
    api_rate: float = 2.0  # API requests per second (searches, counts, tag lookups)
    anonymous_tag_limit: int | None = None  # tags an anonymous search may use (None: no limit)

    @property
    def takes_account(self) -> bool:
        return self.account != NONE

    @property
    def account_phrase(self) -> str:
        """What the site asks of a user, after its name: "Gelbooru needs an account's API credentials"."""
        if self.account == REQUIRED:
            return "needs an account's API credentials"
        if self.account == NONE:
            return "needs none"
        if self.anonymous_tag_limit is not None:
            return f"lets anonymous users search {self.anonymous_tag_limit} tags"
        return "takes an optional account"

    def account_note(self) -> str:
        """The wizard's line under the account fields when none is typed, saved or in the environment."""
        if self.account == NONE:
            return f"{self.title} needs no account."
        if self.account == REQUIRED:
            return f"{self.title} needs an account. Get both at {self.where_to_get}."
        limit = (f"anonymous searches allow {self.anonymous_tag_limit} tags. "
                 if self.anonymous_tag_limit is not None else "")
        return f"Optional: {limit}Key: {self.where_to_get}."


SITES: dict[str, BooruSite] = {s.name: s for s in (
    BooruSite("gelbooru", "Gelbooru", "https://gelbooru.com", "GelbooruClient",
              "the largest, needs an account's API key.", account=REQUIRED,
              where_to_get="gelbooru.com → My Account → Options → API Access Credentials (user_id is the number)",
              account_help="My Account → Options → API Access Credentials (the user id is the number).",
              numeric_user_id=True),
    BooruSite("safebooru", "Safebooru", "https://safebooru.org", "SafebooruClient",
              "SFW anime art, no account needed.", where_to_get="Safebooru needs no account"),
    BooruSite("danbooru", "Danbooru", "https://danbooru.donmai.us", "DanbooruClient",
              "the best tagged; anonymous searches are limited to 2 tags.", account=OPTIONAL, user_label="Login",
              where_to_get="danbooru.donmai.us → My Account → API Key (user id is your login name)",
              account_help="My Account → API Key, with your login name.", api_rate=5.0, anonymous_tag_limit=2),
)}
NAMES: tuple[str, ...] = tuple(SITES)
DEFAULT_SOURCE = "safebooru"  # needs no account: a first search always works


def wizard_order() -> list[BooruSite]:
    """Sites as the wizard lists them: those without an account first."""
    return sorted(SITES.values(), key=lambda s: s.takes_account)


def titles() -> str:
    """"Gelbooru, Safebooru or Danbooru"."""
    names = [s.title for s in SITES.values()]
    return f"{', '.join(names[:-1])} or {names[-1]}"


def source_help() -> str:
    """``--source``'s help: every name and the default."""
    names = list(NAMES)
    return f"{', '.join(names[:-1])} or {names[-1]} (default {DEFAULT_SOURCE}: no account needed)"
