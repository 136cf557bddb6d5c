"""Booru errors: each one is a single sentence, the problem and its fix (exit code 2).

Messages never contain credentials: URLs are reduced to their host before they are quoted.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from tui_lora.core.errors import UserError
from tui_lora.core.safepath import printable

__all__ = ["AuthError", "BooruError", "DiskFullError", "NetworkError", "QueryError", "ServerError", "host_of",
           "printable"]


class BooruError(UserError):
    """Anything the user can fix about a booru search or download."""


class QueryError(BooruError):
    """The search itself is wrong: unknown source, empty tags, too many tags, bad filter."""


class AuthError(BooruError):
    """The site wants credentials, or refused the ones given."""


class CredentialsNeeded(AuthError):
    """The site answers only with an account: the fix asks for credentials (or another site)."""


class NetworkError(BooruError):
    """The site could not be reached (DNS, refused connection, timeouts after retries)."""


class ServerError(BooruError):
    """The site answered, but with an error or a broken body, even after retries."""


class DiskFullError(BooruError):
    """The dataset folder's disk (or quota) is full (the type says so; the fix also says to free space)."""


def host_of(url: str) -> str:
    """``https://gelbooru.com/index.php?api_key=…`` → ``gelbooru.com``: safe to show and log."""
    parts = urlsplit(url)
    return printable(parts.netloc.rsplit("@", 1)[-1] or url.split("?", 1)[0])

