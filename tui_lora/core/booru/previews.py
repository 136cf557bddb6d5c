"""The small pictures of a search's first posts (the Fetch step shows them before a download).

Each comes from the site's own thumbnail (else its sample) URL, fetched like a download: through
the client's HTTP session, waiting on the same file rate limiter the download uses (so searching
and downloading together never go past the site's pace), only from the site's own hosts
(:class:`~tui_lora.core.booru.netguard.HostPolicy`), capped in size and time. They are cached on
disk by URL, so searching again or coming back costs no request. A preview that fails is just
missing: it never stops the search.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import requests

from tui_lora.core.booru import netguard
from tui_lora.core.booru.http import Cancelled, RateLimiter
from tui_lora.core.fsutil import atomic_write_bytes

if TYPE_CHECKING:
    from tui_lora.core.booru.posts import Post

MAX_BYTES = 2 * 1024 * 1024  # a thumbnail is a few KB; a sample a few hundred
DEADLINE_S = 30.0
EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".gif")


def preview_source(post: Post) -> str | None:
    """The URL to show ``post`` from: its thumbnail, else its sample (never the full original)."""
    return post.preview_url or post.sample_url


class PreviewCache:
    """Fetches and keeps the previews of one site (``base_url``) in ``folder``."""

    def __init__(self, folder: Path, session: requests.Session, base_url: str, limiter: RateLimiter) -> None:
        self.folder = Path(folder)
        self.session = session
        self.policy = netguard.HostPolicy(base_url) if base_url else None
        self.limiter = limiter

    def path_for(self, post: Post) -> Path | None:
        url = preview_source(post)
        if not url:
            return None
        suffix = Path(url.split("?", 1)[0]).suffix.lower()
        digest = hashlib.sha1(url.encode("utf-8")).hexdigest()[:12]
        return self.folder / f"{post.source}_{post.id}-{digest}{suffix if suffix in EXTENSIONS else '.jpg'}"

    def cached(self, post: Post) -> Path | None:
        path = self.path_for(post)
        return path if path is not None and path.is_file() else None

    def get(self, post: Post, cancel: threading.Event | None = None) -> Path | None:
        """The preview file (fetched now unless cached), or None when the site has none or it failed."""
        path = self.path_for(post)
        if path is None:
            return None
        if path.is_file():
            return path
        url = preview_source(post) or ""
        if self.policy is not None and self.policy.refusal(url):
            return None  # a thumbnail elsewhere than the site's hosts is not fetched, as files are not
        try:
            self.limiter.wait(cancel)
            with netguard.deadline(DEADLINE_S):
                resp = self.session.get(url, timeout=(10.0, 20.0), stream=True, allow_redirects=False)
                try:
                    if resp.status_code != 200:
                        return None
                    body = netguard.read_capped(resp, MAX_BYTES)
                finally:
                    resp.close()
        except Cancelled:
            raise
        except (requests.exceptions.RequestException, netguard.DeadlineExceeded, netguard.TooLarge, OSError):
            return None
        if not body:
            return None
        try:
            atomic_write_bytes(path, body)
        except OSError:
            return None
        return path
