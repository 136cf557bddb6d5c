"""The booru work behind the Fetch screen, callable from worker threads (no textual here).

One client per (site, base URL, account) is kept, so the site's API rate limit and tag
cache span the live searches and the download that follows.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Outcome:
    """A finished (or cancelled) fetch: the listing, and the download report (None if cancelled
    while listing)."""

    folder: Path
    collection: Any
    report: Any


class BooruSession:
    def __init__(self) -> None:
        self._clients: dict[tuple, Any] = {}
        self._lock = threading.Lock()

    def client(self, source: str, base_url: str, creds):
        from tui_lora.core import booru

        key = (source, base_url.rstrip("/"), creds)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = booru.open_client(source, base_url=base_url or None, credentials=creds)
                self._clients[key] = client
            return client

    def search(self, query, creds, base_url: str, *, save: bool, cancel: threading.Event):
        """(SearchResult, where the credentials were saved or None). Credentials are saved only
        once the site has accepted them."""
        from tui_lora.core import booru

        result = booru.search(query, client=self.client(query.source, base_url, creds), cancel=cancel)
        saved_to = (booru.save_credentials(query.source, creds, base_url=base_url or None)
                    if save and creds is not None else None)
        return result, saved_to

    def fetch(self, query, creds, base_url: str, limit: int, folder: Path, *, caption_extension: str,
              cancel: threading.Event, progress: Callable[[str, Any], None]) -> Outcome:
        """List up to ``limit`` posts, then download them into ``folder`` (progress(kind, snapshot))."""
        from tui_lora.core import booru

        client = self.client(query.source, base_url, creds)
        coll = booru.collect(query, limit, client=client, cancel=cancel, progress=lambda p: progress("list", p))
        if coll.cancelled or cancel.is_set():
            return Outcome(folder, coll, None)
        options = booru.DownloadOptions(caption_extension=caption_extension or ".txt")
        report = booru.download(coll.posts, folder, options=options, cancel=cancel, session=client.http.session,
                                progress=lambda p: progress("download", p), base_url=client.base_url)
        return Outcome(folder, coll, report)
