"""Booru fetch: search Gelbooru, Safebooru or Danbooru and download images with their tags as captions.

The wizard and ``tui-lora fetch`` share this API (all of it safe to call from a worker thread)::

    from tui_lora.core import booru

    query = booru.build_query("safebooru", "1girl solo -monochrome",
                              rating="general,sensitive", min_score=5, order="score")
    creds = booru.resolve_credentials(query.source, user_id=None, api_key=None)  # flags > env > saved
    found = booru.search(query, credentials=creds, base_url=None)    # SearchResult
    found.total_count, found.preview                                   # site total, first few Posts
    coll = booru.collect(query, limit=100, credentials=creds,          # Collection: .posts, .skipped,
                         progress=on_listing, cancel=stop_event)       #   .warnings, .cancelled
    report = booru.download(coll.posts, concept_folder, jobs=6,        # DownloadReport; files only from
                            progress=on_progress, cancel=stop_event,   #   the site's own hosts
                            base_url=found.base_url)
    report.downloaded, report.existing, report.skipped, report.failed, report.to_dict()

- Every problem a user can fix raises a :class:`~tui_lora.core.errors.UserError` subclass from
  :mod:`.errors` whose message is one sentence with the fix (unknown source, empty tags, missing or
  wrong credentials, Danbooru's anonymous 2-tag limit, network down, disk full).
- ``progress`` callbacks receive :class:`CollectProgress` / :class:`Progress` snapshots (count,
  bytes, rate, ETA) from worker threads; ``cancel`` is a ``threading.Event``. A cancelled or
  interrupted download leaves only hidden ``.part`` files, which the next run resumes.
- Credentials: :func:`resolve_credentials`, :func:`save_credentials` (credentials.toml, mode 0600,
  saved per site origin and sent only there; :func:`withheld_note` says when some were held back),
  env ``TUI_LORA_GELBOORU_USER_ID`` / ``TUI_LORA_GELBOORU_API_KEY`` (DANBOORU likewise).
- ``base_url`` points any source at a mirror, a self-hosted instance, or the test server.
- To keep one connection pool and the site's tag-category cache across the steps, open the client
  once: ``client = booru.open_client(source, base_url=..., credentials=...)``, then pass
  ``client=client`` to search/collect and ``session=client.http.session`` to download.
- :class:`DownloadOptions`: shared file-request rate, size cap (``max_bytes``; the sample is used
  when there is one), ``use_sample_for_huge`` (originals over 3072² px), captions on/off and their
  extension, retry policy, timeouts. Files are named ``<source>_<id>.<ext>``; images already there
  or moved to ``dataset/.trash`` are skipped.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Public name → submodule. Loaded on first use so `tui-lora --help` does not pay for requests.
_EXPORTS = {
    "DEFAULT_BASE_URLS": "client_base", "SITE_NAMES": "client_base", "Client": "client_base", "open_client": "clients",
    "Credentials": "credentials", "forget_credentials": "credentials", "resolve_credentials": "credentials",
    "save_credentials": "credentials", "stored_credentials": "credentials", "withheld_note": "credentials",
    "DEFAULT_JOBS": "defaults", "MAX_JOBS": "defaults",
    "DownloadOptions": "downloader", "download": "downloader",
    "AuthError": "errors", "BooruError": "errors", "DiskFullError": "errors", "NetworkError": "errors",
    "QueryError": "errors", "ServerError": "errors",
    "USER_AGENT": "http", "RateLimiter": "http", "RetryPolicy": "http",
    "RATINGS": "posts", "Post": "posts", "tag_to_caption": "posts",
    "ORDERS": "query", "SOURCES": "query", "Query": "query", "build_query": "query",
    "DownloadReport": "report", "ItemResult": "report", "Progress": "report",
    "Collection": "listing", "CollectProgress": "listing", "SearchResult": "listing", "collect": "listing",
    "search": "listing",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


if TYPE_CHECKING:
    from tui_lora.core.booru.client_base import DEFAULT_BASE_URLS, SITE_NAMES, Client
    from tui_lora.core.booru.clients import open_client
    from tui_lora.core.booru.credentials import (
        Credentials,
        forget_credentials,
        resolve_credentials,
        save_credentials,
        stored_credentials,
        withheld_note,
    )
    from tui_lora.core.booru.defaults import DEFAULT_JOBS, MAX_JOBS
    from tui_lora.core.booru.downloader import DownloadOptions, download
    from tui_lora.core.booru.errors import AuthError, BooruError, DiskFullError, NetworkError, QueryError, ServerError
    from tui_lora.core.booru.http import USER_AGENT, RateLimiter, RetryPolicy
    from tui_lora.core.booru.listing import Collection, CollectProgress, SearchResult, collect, search
    from tui_lora.core.booru.posts import RATINGS, Post, tag_to_caption
    from tui_lora.core.booru.query import ORDERS, SOURCES, Query, build_query
    from tui_lora.core.booru.report import DownloadReport, ItemResult, Progress
