"""A booru search: the user's tags plus rating, score and order filters, rendered per site.

Tag text is booru syntax: space-separated tags with underscores, ``-tag`` excludes. Text with
commas is read as a list of tags in caption style ("hatsune miku, 1girl") and converted.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from tui_lora.core.booru.errors import QueryError
from tui_lora.core.booru.posts import RATINGS, Post
from tui_lora.core.errors import ChangeInput, Fix, Given
from tui_lora.core.registry.boorus import NAMES, SITES

SOURCES: tuple[str, ...] = NAMES
ORDERS: tuple[str, ...] = ("newest", "score")

# Danbooru: anonymous users may search this many tags; these metatags do not count
# (PostQuery::UNLIMITED_METATAGS); order: does count.
DANBOORU_ANON_TAG_LIMIT: int = SITES["danbooru"].anonymous_tag_limit or 0
DANBOORU_FREE_METATAGS = frozenset({
    "status", "rating", "limit", "is", "id", "date", "age", "filesize", "filetype", "parent", "child",
    "md5", "width", "height", "duration", "mpixels", "ratio", "score", "upvote", "downvotes", "favcount",
    "embedded", "tagcount", "pixiv_id", "pixiv",
})
DANBOORU_KEY_HELP = "danbooru.donmai.us → My Account → API Key"


def check_source(source: str) -> str:
    s = (source or "").strip().lower()
    if s not in SOURCES:
        raise QueryError(f"Unknown source {source!r}",
                         Fix(f"use one of {', '.join(SOURCES)} ({{}})", Given("booru.source")))
    return s


def parse_tags(text: str | Sequence[str]) -> tuple[str, ...]:
    """User text → booru terms. ``"1girl solo -monochrome"`` or ``"hatsune miku, 1girl"``."""
    if not isinstance(text, str):
        items = [str(t) for t in text]
        return tuple(t.strip().replace(" ", "_") for t in items if t.strip())
    if "," in text:
        return tuple("_".join(part.split()) for part in text.split(",") if part.strip())
    return tuple(text.split())


def parse_ratings(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """``"general,sensitive"`` (or g,s) → ("general", "sensitive"); empty means any rating."""
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else list(value)
    out: list[str] = []
    for item in items:
        v = item.strip().lower()
        if not v:
            continue
        full = {r[0]: r for r in RATINGS}.get(v, v)
        if full not in RATINGS:
            raise QueryError(f"Unknown rating {item.strip()!r}",
                             Fix(f"use any of {', '.join(RATINGS)} separated by commas"))
        if full not in out:
            out.append(full)
    return tuple(r for r in RATINGS if r in out)


@dataclass(frozen=True)
class Query:
    """What to search for. Build it with :func:`build_query`, which validates everything."""

    source: str
    tags: tuple[str, ...]
    ratings: tuple[str, ...] = ()
    min_score: int | None = None
    order: str = "newest"

    # ----- what goes to the server --------------------------------------------------------
    def terms(self) -> list[str]:
        """The search terms sent to the site (metatags in that site's dialect)."""
        terms = list(self.tags)
        if self.source == "danbooru":
            if self.ratings and len(self.ratings) < len(RATINGS):
                terms.append("rating:" + ",".join(r[0] for r in self.ratings))
            if self.min_score is not None:
                terms.append(f"score:>={self.min_score}")
            if self.order == "score":
                terms.append("order:score")
            return terms
        # Gelbooru 0.2 dialect (Gelbooru and Safebooru). Safebooru's ratings predate the
        # general/sensitive split, so its rating filter is applied to the results instead.
        if self.source == "gelbooru" and self.ratings and len(self.ratings) < len(RATINGS):
            if len(self.ratings) == 1:
                terms.append(f"rating:{self.ratings[0]}")
            else:
                terms.extend(f"-rating:{r}" for r in RATINGS if r not in self.ratings)
        if self.min_score is not None:
            terms.append(f"score:>={self.min_score}")
        if self.order == "score":
            terms.append("sort:score:desc")
        return terms

    @property
    def text(self) -> str:
        return " ".join(self.terms())

    @property
    def local_filters(self) -> tuple[str, ...]:
        """Filters the site cannot apply, so results are filtered here (the count ignores them)."""
        if self.source == "safebooru" and self.ratings and len(self.ratings) < len(RATINGS):
            return ("rating",)
        return ()

    def matches(self, post: Post) -> bool:
        """The filters again on our side: sites differ in what they honour."""
        if self.ratings and post.rating is not None and post.rating not in self.ratings:
            return False
        if self.min_score is not None and post.score is not None and post.score < self.min_score:
            return False
        return True

    def describe(self) -> str:
        """Human summary: ``"1girl -monochrome" (rating general, score >= 5, best score first)``."""
        bits = []
        if self.ratings and len(self.ratings) < len(RATINGS):
            bits.append("rating " + "/".join(self.ratings))
        if self.min_score is not None:
            bits.append(f"score >= {self.min_score}")
        if self.order == "score":
            bits.append("best score first")
        tail = f" ({', '.join(bits)})" if bits else ""
        return f'"{" ".join(self.tags)}"{tail}'

    def danbooru_tag_count(self) -> int:
        """How many of :meth:`terms` count against Danbooru's anonymous tag limit."""
        n = 0
        for term in self.terms():
            name, sep, _ = term.lstrip("-~").partition(":")
            if sep and name.lower() in DANBOORU_FREE_METATAGS:
                continue
            n += 1
        return n

    def check_danbooru_limit(self, authenticated: bool) -> None:
        if self.source != "danbooru" or authenticated:
            return
        n = self.danbooru_tag_count()
        if n > DANBOORU_ANON_TAG_LIMIT:
            raise QueryError(
                f"Danbooru lets anonymous users search at most {DANBOORU_ANON_TAG_LIMIT} tags at a time and "
                f'"{self.text}" counts {n} (order:score counts, rating and score filters do not)',
                Fix(f"remove some tags, or {{}} ({DANBOORU_KEY_HELP})",
                    ChangeInput("booru.credentials", "danbooru", verb="sign in with")))

    def to_dict(self) -> dict:
        return {"source": self.source, "tags": list(self.tags), "ratings": list(self.ratings),
                "min_score": self.min_score, "order": self.order, "text": self.text}


def build_query(
    source: str,
    tags: str | Sequence[str],
    *,
    rating: str | Iterable[str] | None = None,
    min_score: int | None = None,
    order: str = "newest",
) -> Query:
    """Validate the user's search; raises :class:`QueryError` with the fix."""
    source = check_source(source)
    terms = parse_tags(tags)
    if not terms:
        raise QueryError("The tag search is empty",
                         Fix("{}", ChangeInput("booru.tags", "1girl solo -monochrome",
                                               verb="give at least one tag, e.g.")))
    bad = [t for t in terms if t in ("-", "~") or any(c in t for c in "\x00\n\r\t")]
    if bad:
        raise QueryError(f"{bad[0]!r} is not a tag", Fix("{}", ChangeInput("booru.tags", verb="remove it from")))
    order = (order or "newest").strip().lower()
    if order in ("id", "new", "date"):
        order = "newest"
    if order not in ORDERS:
        raise QueryError(f"Unknown order {order!r}", Fix("{} or {}", ChangeInput("booru.order", "newest", verb="use"),
                                                          Given("booru.order", "score")))
    if min_score is not None and not isinstance(min_score, int):
        raise QueryError(f"The minimum score must be a whole number, not {min_score!r}.")
    return Query(source=source, tags=terms, ratings=parse_ratings(rating), min_score=min_score, order=order)
