"""Search (total count + a preview) and collect (page through results up to a limit)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tui_lora.core.booru.client_base import Client
from tui_lora.core.booru.clients import open_client
from tui_lora.core.booru.credentials import Credentials
from tui_lora.core.booru.errors import BooruError, ServerError
from tui_lora.core.booru.http import Cancelled
from tui_lora.core.booru.posts import Post, unique
from tui_lora.core.booru.query import Query
from tui_lora.core.errors import ChangeInput, Fix, Namer, Notice, neutral_name

PREVIEW = 8
SPARE_PAGES = 10  # pages a listing may read beyond what the limit needs, for posts passed over


def page_budget(limit: int, page_size: int) -> int:
    """How many pages a listing may read: enough for ``limit`` posts ten times over plus a margin, so a
    search whose posts are mostly unusable (all gifs, say) ends with a sentence instead of paging on."""
    return 10 * -(-limit // max(1, page_size)) + SPARE_PAGES


def _page(c: Client, query: Query, index: int, *, before_id: int | None = None,
          cancel: threading.Event | None = None):
    """One page; an answer whose parts have the wrong JSON types is a sentence naming the site."""
    try:
        return c.page(query, index, before_id=before_id, cancel=cancel)
    except (AttributeError, TypeError, KeyError, ValueError):
        raise ServerError(f"{c.site} sent an answer of an unexpected shape",
                          Fix("{}", ChangeInput("booru.base_url", verb="check"))) from None


@dataclass
class SearchResult:
    """What a search found: the site's total (None when it does not say) and the first posts."""

    query: Query
    site: str
    base_url: str
    total_count: int | None
    preview: list[Post]
    first_page_size: int = 0
    unusable_in_first_page: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.query.source, "site": self.site, "base_url": self.base_url,
                "query": self.query.to_dict(), "total_count": self.total_count,
                "count_ignores": list(self.query.local_filters),
                "first_page": self.first_page_size, "unusable_in_first_page": self.unusable_in_first_page,
                "preview": [p.to_dict() for p in self.preview]}


@dataclass
class CollectProgress:
    found: int
    wanted: int
    pages: int


@dataclass
class Collection:
    """Posts ready to download, and what was passed over on the way (reason → count)."""

    query: Query
    posts: list[Post]
    total_count: int | None
    skipped: dict[str, int] = field(default_factory=dict)
    warnings: list[Notice] = field(default_factory=list)
    pages: int = 0
    cancelled: bool = False

    def to_dict(self, name: Namer = neutral_name) -> dict[str, Any]:
        """As JSON; ``name`` names the steps of the warnings' fixes (a front end's words)."""
        return {"query": self.query.to_dict(), "total_count": self.total_count, "posts": len(self.posts),
                "skipped": dict(self.skipped), "warnings": [w.text(name) for w in self.warnings], "pages": self.pages,
                "cancelled": self.cancelled}


def _client(query: Query, client: Client | None, credentials: Credentials | None, base_url: str | None) -> Client:
    c = client or open_client(query.source, base_url=base_url, credentials=credentials)
    c.check(query)
    return c


def skip_reason(post: Post, query: Query) -> str | None:
    """Why ``post`` will not be downloaded, or None."""
    if not post.file_url:
        return "no file URL (hidden by the site)"
    reason = post.unusable_reason()
    if reason:
        return reason
    if not query.matches(post):
        return "outside the rating/score filter"
    return None


def search(query: Query, *, credentials: Credentials | None = None, base_url: str | None = None,
           client: Client | None = None, preview: int = PREVIEW,
           cancel: threading.Event | None = None) -> SearchResult:
    """The site's total for ``query`` and the first ``preview`` usable posts (one or two requests)."""
    c = _client(query, client, credentials, base_url)
    first = _page(c, query, 0, cancel=cancel)
    total = first.count if first.count is not None else c.count(query, cancel=cancel)
    usable = [p for p in first.posts if skip_reason(p, query) is None]
    if not first.posts:
        total = total or 0
    return SearchResult(query=query, site=c.site, base_url=c.base_url, total_count=total,
                        preview=c.categorise(usable[:preview], cancel=cancel), first_page_size=len(first.posts),
                        unusable_in_first_page=sum(1 for p in first.posts if p.unusable_reason()))


def collect(query: Query, limit: int, *, credentials: Credentials | None = None, base_url: str | None = None,
            client: Client | None = None, progress: Callable[[CollectProgress], None] | None = None,
            cancel: threading.Event | None = None) -> Collection:
    """Page through results until ``limit`` downloadable posts are found (or the results end).

    Pages past the site's depth limit switch to id-based paging when sorted by newest; sorted
    by score, listing stops there with a warning. A page that stays broken after retries ends
    the listing with a warning and keeps what was found.
    """
    if limit < 1:
        raise BooruError("The limit must be at least 1",
                         Fix("{} to 1 or more", ChangeInput("fetch.limit", verb="raise")))
    c = _client(query, client, credentials, base_url)
    out = Collection(query=query, posts=[], total_count=None)
    skipped: Counter[str] = Counter()
    seen: set[int] = set()
    index, before_id = 0, None
    budget = page_budget(limit, c.page_size)
    try:
        while len(out.posts) < limit:
            if out.pages >= budget:
                passed = sum(skipped.values())
                out.warnings.append(Notice(f"Stopped listing after {out.pages} pages: {passed} posts were passed over "
                                           f"and only {len(out.posts)} of the {limit} wanted could be used",
                                           Fix("{} (e.g. -animated) or change the filters",
                                               ChangeInput("booru.tags", verb="narrow"))))
                break
            if before_id is None and (index + 1) * c.page_size > c.max_offset:
                if query.order != "newest" or not seen:
                    out.warnings.append(Notice(f"{c.site} cannot list more than {c.max_offset:,} results sorted by "
                                               f"score; stopped at {len(out.posts)} images."))
                    break
                before_id = min(seen)
            try:
                page = _page(c, query, index, before_id=before_id, cancel=cancel)
            except BooruError as exc:
                if out.pages == 0:
                    raise
                out.warnings.append(Notice(exc.problem.prefixed(f"Stopped listing after {out.pages} pages: "), exc.fix))
                break
            out.pages += 1
            if page.count is not None and out.total_count is None:
                out.total_count = page.count
            # A post listed twice (in one page or across pages) is downloaded once.
            fresh = unique([p for p in page.posts if p.id not in seen], key=lambda p: p.id)
            for post in fresh:
                seen.add(post.id)
                reason = skip_reason(post, query)
                if reason:
                    skipped[reason] += 1
                elif len(out.posts) < limit:
                    out.posts.append(post)
            if progress:
                progress(CollectProgress(len(out.posts), limit, out.pages))
            if len(page.posts) < c.page_size or not fresh:
                break
            if before_id is not None:
                before_id = min(seen)
            else:
                index += 1
        out.posts = c.categorise(out.posts, cancel=cancel)
    except Cancelled:
        out.cancelled = True
    out.skipped = dict(skipped)
    return out
