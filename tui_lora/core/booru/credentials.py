"""API credentials: Gelbooru's user id + API key, Danbooru's login + API key.

Looked up in this order: values passed in (CLI flags, wizard fields), environment variables
``TUI_LORA_<SOURCE>_USER_ID`` / ``TUI_LORA_<SOURCE>_API_KEY``, then the user's
``credentials.toml`` (mode 0600, in the platformdirs config folder). They are never printed,
logged, put in error messages, or sent anywhere but the site's API.

Saved credentials belong to one site *origin* (scheme, host and port): they are sent only to the
origin they were saved for, so a fetch with another ``--base-url`` (a mirror, a typo, a hostile
server) gets none, and plain http gets them only when the user saved them for that http origin.
Flags and environment variables are chosen for the one run and go to whatever ``--base-url`` it
uses. The file's old format (one table per site) is read as the site's default https origin.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from tui_lora.core.booru.errors import AuthError
from tui_lora.core.booru.query import check_source
from tui_lora.core.errors import ChangeInput, Fix, Given, Notice, Words
from tui_lora.core.registry.boorus import SITES
from tui_lora.core.userconfig import load_user_config, save_user_config

CREDENTIALS_FILE = "credentials.toml"
# Where each site lives by default: old single-site credentials belong to this origin.
DEFAULT_ORIGINS = {s.name: s.base_url for s in SITES.values()}

WHERE_TO_GET = {s.name: s.where_to_get for s in SITES.values()}


@dataclass(frozen=True)
class Credentials:
    """``user_id`` is Gelbooru's numeric id or Danbooru's login name."""

    user_id: str
    api_key: str

    def __repr__(self) -> str:  # never leak the key into logs or tracebacks
        return "Credentials(user_id=***, api_key=***)"

    __str__ = __repr__


def env_names(source: str) -> tuple[str, str]:
    s = source.upper()
    return f"TUI_LORA_{s}_USER_ID", f"TUI_LORA_{s}_API_KEY"


def origin_of(source: str, base_url: str | None = None) -> str:
    """``scheme://host:port`` of ``base_url`` (default: the site's own), the unit credentials belong to."""
    parts = urlsplit((base_url or DEFAULT_ORIGINS[check_source(source)]).strip())
    scheme = parts.scheme.lower()
    try:
        port = parts.port or {"http": 80, "https": 443}.get(scheme, 0)
    except ValueError:  # a port that is not a number: check_base_url refuses the URL itself
        port = 0
    host = (parts.hostname or "").lower()
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"


def _saved_sites() -> dict[str, dict]:
    """origin → {source, user_id, api_key}; the old one-table-per-site format is read as each site's
    default https origin."""
    data = load_user_config(CREDENTIALS_FILE)
    sites = {k: dict(v) for k, v in (data.get("sites") or {}).items() if isinstance(v, dict)}
    for source in DEFAULT_ORIGINS:
        old = data.get(source)
        if isinstance(old, dict):
            sites.setdefault(origin_of(source), {"source": source, **old})
    return sites


def stored_credentials(source: str, base_url: str | None = None) -> Credentials | None:
    """The credentials saved for ``source`` at the origin of ``base_url`` (default: the site's own)."""
    source = check_source(source)
    entry = _saved_sites().get(origin_of(source, base_url), {})
    if entry.get("source", source) != source:
        return None
    uid, key = str(entry.get("user_id", "")).strip(), str(entry.get("api_key", "")).strip()
    return Credentials(uid, key) if uid and key else None


def withheld_note(source: str, base_url: str | None) -> Notice | None:
    """A notice when credentials are saved for ``source`` but not for this origin (so none are sent)."""
    source = check_source(source)
    here = origin_of(source, base_url)
    if stored_credentials(source, base_url) is not None:
        return None
    elsewhere = sorted(o for o, e in _saved_sites().items() if e.get("source", "") == source and o != here)
    if not elsewhere:
        return None
    return Notice(f"Your saved {source} credentials are for {_shown(elsewhere[0])}, so none were sent to "
                  f"{_shown(here)}",
                  Fix("{} to use an account there ({} keeps them)", ChangeInput("booru.credentials"),
                      Given("booru.remember")))


def _shown(origin: str) -> str:
    """An origin without its default port, as users type it."""
    for scheme, port in (("http", ":80"), ("https", ":443")):
        if origin.startswith(scheme + "://") and origin.endswith(port):
            return origin[: -len(port)]
    return origin


def resolve_credentials(source: str, *, user_id: str | None = None, api_key: str | None = None,
                        base_url: str | None = None) -> Credentials | None:
    """The credentials to use for ``source`` at ``base_url`` (default: the site's own), or None to
    search anonymously. Saved credentials count only for the origin they were saved for."""
    source = check_source(source)
    if user_id or api_key:
        if not (user_id and api_key):
            missing = "booru.api_key" if user_id else "booru.user_id"
            raise AuthError(Words(f"{source} credentials need both {{}} and {{}}", Given("booru.user_id"),
                                  Given("booru.api_key")),
                            Fix(f"add {{}} (from {WHERE_TO_GET[source]})", Given(missing)))
        return _checked(source, Credentials(str(user_id).strip(), str(api_key).strip()))
    uid_var, key_var = env_names(source)
    uid, key = os.environ.get(uid_var, "").strip(), os.environ.get(key_var, "").strip()
    if uid or key:
        if not (uid and key):
            missing = key_var if uid else uid_var
            raise AuthError(f"{uid_var} and {key_var} must be set together", Fix(f"set {missing} too or unset both"))
        return _checked(source, Credentials(uid, key))
    return stored_credentials(source, base_url)


def _checked(source: str, creds: Credentials) -> Credentials:
    site = SITES[source]
    if site.numeric_user_id and not creds.user_id.isdigit():
        raise AuthError(f"{site.title}'s user id is a number, not a name", Fix(f"copy it from {site.where_to_get}"))
    return creds


def _write_sites(sites: dict[str, dict]) -> Path:
    """Write credentials.toml in the per-origin format (the old per-site tables are folded in)."""
    return save_user_config({"sites": sites}, CREDENTIALS_FILE, private=True)


def save_credentials(source: str, credentials: Credentials, base_url: str | None = None) -> Path:
    """Remember credentials for ``source`` at the origin of ``base_url`` (default: the site's own) in
    credentials.toml (mode 0600); returns the file."""
    source = check_source(source)
    sites = _saved_sites()
    sites[origin_of(source, base_url)] = {"source": source, "user_id": credentials.user_id,
                                          "api_key": credentials.api_key}
    return _write_sites(sites)


def forget_credentials(source: str, base_url: str | None = None) -> bool:
    """Remove stored credentials for ``source`` at that origin; True when there were some."""
    source = check_source(source)
    sites = _saved_sites()
    if sites.pop(origin_of(source, base_url), None) is None:
        return False
    _write_sites(sites)
    return True
