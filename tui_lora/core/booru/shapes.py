"""The parts of a site's JSON answer, checked: a hostile or broken site (anything behind ``--base-url``)
may send any shape, and every one ends as posts, nothing, or one sentence naming the site."""

from __future__ import annotations

import html
from typing import Any

from tui_lora.core.booru.errors import ServerError, printable
from tui_lora.core.errors import ChangeInput, Fix


def site_tags(text: Any, *, unescape: bool = True) -> tuple[str, ...]:
    """A site's space-separated tag string as tags: HTML entities decoded (Gelbooru escapes them),
    then control, bidi and line-separator characters dropped (kohya reads a caption's first line
    only, and a terminal would obey an escape sequence hidden in a tag)."""
    if not isinstance(text, str):
        return ()
    tags = (html.unescape(t) if unescape else t for t in text.split())
    return tuple(t for t in (printable(t) for t in tags) if t)


def post_list(site: str, raw: Any) -> list[dict[str, Any]]:
    """The ``post`` value of an answer as a list of objects (missing: none; one object: one)."""
    if raw is None:
        return []
    if isinstance(raw, dict):
        return [raw]
    if not isinstance(raw, list):
        raise ServerError(f"{site} sent an answer of an unexpected shape (its post list is a {type(raw).__name__})",
                          Fix("{}", ChangeInput("booru.base_url", verb="check")))
    return [d for d in raw if isinstance(d, dict)]


def attributes(data: dict[str, Any]) -> dict[str, Any]:
    """Gelbooru's ``@attributes`` (limit, offset, count) when it is an object, else nothing."""
    attrs = data.get("@attributes")
    return attrs if isinstance(attrs, dict) else {}
