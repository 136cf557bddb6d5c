"""API credentials: Gelbooru's user id + API key, Danbooru's login + API key.

Looked up in this order: values passed in (CLI flags, wizard fields), environment variables
``TUI_LORA_<SOURCE>_USER_ID`` / ``TUI_LORA_<SOURCE>_API_KEY``, then the user's
``credentials.toml`` (mode 0600, in the platformdirs config folder). They are never printed,
logged, put in error messages, or sent anywhere but the site's API.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from tui_lora.core.booru.errors import AuthError
from tui_lora.core.booru.query import check_source
from tui_lora.core.errors import Fix, Given, Words
from tui_lora.core.userconfig import load_user_config, save_user_config

CREDENTIALS_FILE = "credentials.toml"

WHERE_TO_GET = {
    "gelbooru": "gelbooru.com → My Account → Options → API Access Credentials (user_id is the number)",
    "danbooru": "danbooru.donmai.us → My Account → API Key (user id is your login name)",
    "safebooru": "Safebooru needs no account",
}


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


def stored_credentials(source: str) -> Credentials | None:
    entry = load_user_config(CREDENTIALS_FILE).get(check_source(source), {})
    uid, key = str(entry.get("user_id", "")).strip(), str(entry.get("api_key", "")).strip()
    return Credentials(uid, key) if uid and key else None


def resolve_credentials(source: str, *, user_id: str | None = None, api_key: str | None = None) -> Credentials | None:
    """The credentials to use for ``source``, or None to search anonymously."""
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
    return stored_credentials(source)


def _checked(source: str, creds: Credentials) -> Credentials:
    if source == "gelbooru" and not creds.user_id.isdigit():
        raise AuthError("Gelbooru's user id is a number, not a name", Fix(f"copy it from {WHERE_TO_GET['gelbooru']}"))
    return creds


def save_credentials(source: str, credentials: Credentials) -> Path:
    """Remember credentials for ``source`` in credentials.toml (mode 0600); returns the file."""
    source = check_source(source)
    data = load_user_config(CREDENTIALS_FILE)
    data[source] = {"user_id": credentials.user_id, "api_key": credentials.api_key}
    return save_user_config(data, CREDENTIALS_FILE, private=True)


def forget_credentials(source: str) -> bool:
    """Remove stored credentials for ``source``; True when there were some."""
    source = check_source(source)
    data = load_user_config(CREDENTIALS_FILE)
    if source not in data:
        return False
    del data[source]
    save_user_config(data, CREDENTIALS_FILE, private=True)
    return True
