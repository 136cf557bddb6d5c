"""Site clients: Gelbooru and Safebooru (the Gelbooru 0.2 ``dapi``) and Danbooru (``/posts.json``).

Each client turns one page of the site's JSON into :class:`Post` objects and knows the site's
quirks: Gelbooru's ``post`` key is missing when nothing matches and is a bare object when one
post matches; Safebooru answers a bare array without ``file_url`` (and an empty body for no
results); Danbooru limits anonymous searches to 2 tags. Both kinds of site refuse to page
past a fixed depth, so :attr:`Client.max_offset` tells the collector when to switch to
``id:<LAST`` (Gelbooru) or ``page=b<LAST`` (Danbooru).
"""

from __future__ import annotations

import html
import json
import re
import threading
from collections.abc import Iterable
from dataclasses import replace
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote

import requests

from tui_lora.core.booru.client_base import CHECK_URL, Client, Page, ext_from, to_int, to_md5
from tui_lora.core.booru.credentials import WHERE_TO_GET
from tui_lora.core.booru.errors import AuthError, CredentialsNeeded, QueryError, ServerError, printable
from tui_lora.core.booru.posts import Post, normalise_rating
from tui_lora.core.booru.query import DANBOORU_KEY_HELP, Query, check_source
from tui_lora.core.booru.shapes import attributes, post_list, site_tags
from tui_lora.core.errors import ChangeInput, Fix, TryAgain
from tui_lora.core.registry.boorus import SITES

# Gelbooru's numeric tag types; Safebooru may send the names instead.
_GELBOORU_TAG_TYPES = {0: "general", 1: "artist", 3: "copyright", 4: "character", 5: "meta", 6: "general"}
_TAG_TYPE_NAMES = {"tag": "general", "general": "general", "artist": "artist", "copyright": "copyright",
                   "character": "character", "metadata": "meta", "meta": "meta", "deprecated": "general"}


class GelbooruClient(Client):
    """Gelbooru's dapi JSON: ``{"@attributes": {"limit", "offset", "count"}, "post": [...]}``."""

    source = "gelbooru"
    page_size = 100

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._tag_types: dict[str, str] = {}  # tag → category, cached for the client's life
        self._unknown: set[str] = set()
        self._tag_api_ok = True

    @property
    def api_url(self) -> str:
        return self.base_url + "/index.php"

    def _params(self, **extra: Any) -> dict[str, Any]:
        params = {"page": "dapi", "q": "index", "json": "1", **extra}
        if self.credentials:
            params["user_id"] = self.credentials.user_id
            params["api_key"] = self.credentials.api_key
        return params

    def _get_json(self, params: dict[str, Any], cancel: threading.Event | None, *, empty: Any = None) -> Any:
        try:
            return self.http.get_json(self.api_url, params, cancel=cancel, empty=empty)
        except AuthError:
            raise self._auth_error() from None

    def _auth_error(self) -> AuthError:
        if self.credentials:
            return AuthError(f"{self.site} rejected the user id and API key",
                             Fix(f"copy them again from {WHERE_TO_GET['gelbooru']} and {{}}",
                                 ChangeInput("booru.credentials")))
        return CredentialsNeeded(f"{self.site} now requires an account for API searches",
                                 Fix(f"copy your user id and API key from {WHERE_TO_GET['gelbooru']} and {{}}, or {{}}",
                                     ChangeInput("booru.credentials", "gelbooru"),
                                     ChangeInput("booru.source", "safebooru", verb="try")))

    def _searchsite_tags(self, query: Query, before_id: int | None) -> str:
        terms = query.terms()
        if before_id is not None:
            terms.append(f"id:<{before_id}")
        return " ".join(terms)

    def page(self, query: Query, index: int, *, before_id: int | None = None,
             cancel: threading.Event | None = None) -> Page:
        params = self._params(s="post", limit=self.page_size, pid=0 if before_id is not None else index,
                              tags=self._searchsite_tags(query, before_id))
        data = self._get_json(params, cancel)
        if isinstance(data, list):  # some mirrors answer in Safebooru's shape
            return Page([p for p in (self.parse_post(d) for d in post_list(self.site, data)) if p])
        if not isinstance(data, dict):
            raise ServerError(f"{self.site} sent an answer of an unexpected shape", CHECK_URL)
        posts = [p for p in (self.parse_post(d) for d in post_list(self.site, data.get("post"))) if p]
        return Page(posts, to_int(attributes(data).get("count")))

    def parse_post(self, d: dict[str, Any]) -> Post | None:
        pid = to_int(d.get("id"))
        if pid is None:
            return None
        file_url = self.absolute(d.get("file_url"))
        sample = self.absolute(d.get("sample_url")) if str(d.get("sample", "0")) not in ("0", "False", "false", "") else None
        tags = site_tags(d.get("tags"))
        return Post(
            source=self.source, id=pid, file_url=file_url, md5=to_md5(d.get("md5") or d.get("hash")),
            ext=ext_from(d.get("image"), d.get("file_url")), width=to_int(d.get("width")),
            height=to_int(d.get("height")), sample_url=sample, rating=normalise_rating(d.get("rating")),
            score=to_int(d.get("score")), tags={"general": tags}, categorised=False,
            preview_url=self.absolute(d.get("preview_url")),
        )

    # ----- tag categories (posts carry a flat tag string) ----------------------------------
    def categorise(self, posts: list[Post], *, cancel: threading.Event | None = None) -> list[Post]:
        """Sort each post's tags into character/copyright/artist/general/meta via the tag API.

        Best effort: when the site has no usable tag lookup, tags stay in the site's order
        (and common meta tags are still dropped from captions).
        """
        wanted = sorted({t for p in posts if not p.categorised for t in p.tags.get("general", ())}
                        - set(self._tag_types) - self._unknown)
        if self._tag_api_ok:
            try:
                for batch in _batches(wanted, max_names=100, max_chars=3000):
                    self._lookup(batch, cancel)
            except (ServerError, AuthError, ValueError):
                self._tag_api_ok = False  # don't keep asking a site that cannot answer
        if not self._tag_types:
            return posts
        out = []
        for p in posts:
            if p.categorised:
                out.append(p)
                continue
            groups: dict[str, list[str]] = {}
            for t in p.tags.get("general", ()):
                groups.setdefault(self._tag_types.get(t, "general"), []).append(t)
            out.append(replace(p, tags={k: tuple(v) for k, v in groups.items()}, categorised=True))
        return out

    def _lookup(self, names: list[str], cancel: threading.Event | None) -> None:
        params = self._params(s="tag", names=" ".join(names), limit=len(names))
        try:
            resp = self.http.get(self.api_url, params, cancel=cancel)
        except AuthError:
            raise self._auth_error() from None
        data = json.loads(resp.content) if resp.content.strip() else []  # ValueError: no JSON tag API
        items = data.get("tag", []) if isinstance(data, dict) else data
        if isinstance(items, dict):
            items = [items]
        if not isinstance(items, list):
            raise ValueError("unexpected tag answer")
        for item in items:
            if not isinstance(item, dict) or "name" not in item:
                continue
            kind = item.get("type")
            cat = _GELBOORU_TAG_TYPES.get(to_int(kind)) if to_int(kind) is not None else _TAG_TYPE_NAMES.get(str(kind).lower())
            self._tag_types[printable(html.unescape(str(item["name"])))] = cat or "general"
        self._unknown.update(n for n in names if n not in self._tag_types)


class SafebooruClient(GelbooruClient):
    """Safebooru: Gelbooru 0.2 dapi, no credentials; JSON is a bare array without ``file_url``."""

    source = "safebooru"

    def _params(self, **extra: Any) -> dict[str, Any]:
        # Safebooru has no accounts: never send a key meant for another site to it.
        return {"page": "dapi", "q": "index", "json": "1", **extra}

    def page(self, query: Query, index: int, *, before_id: int | None = None,
             cancel: threading.Event | None = None) -> Page:
        params = self._params(s="post", limit=self.page_size, pid=0 if before_id is not None else index,
                              tags=self._searchsite_tags(query, before_id))
        data = self._get_json(params, cancel, empty=[])
        if isinstance(data, dict):  # a newer engine behind --base-url
            return Page([p for p in (self.parse_post(d) for d in post_list(self.site, data.get("post"))) if p],
                        to_int(attributes(data).get("count")))
        if not isinstance(data, list):
            raise ServerError(f"{self.site} sent an answer of an unexpected shape", CHECK_URL)
        return Page([p for p in (self.parse_post(d) for d in post_list(self.site, data)) if p])

    def parse_post(self, d: dict[str, Any]) -> Post | None:
        post = super().parse_post(d)
        if post is None or post.file_url:
            return post
        directory, image = str(d.get("directory") or ""), str(d.get("image") or "")
        if not image:
            return post
        # The site's names only ever become URL parts (quoted), never file names.
        file_url = f"{self.base_url}/images/{quote(directory, safe='')}/{quote(image, safe='')}"
        sample_url = None
        if str(d.get("sample", "0")).lower() not in ("0", "false", ""):
            stem = PurePosixPath(image).stem
            sample_url = f"{self.base_url}/samples/{quote(directory, safe='')}/{quote('sample_' + stem + '.jpg', safe='')}"
        # Every post has a thumbnail there, named like the sample (the search pages show it).
        stem = PurePosixPath(image).stem
        preview_url = (post.preview_url or
                       f"{self.base_url}/thumbnails/{quote(directory, safe='')}/{quote('thumbnail_' + stem + '.jpg', safe='')}")
        return replace(post, file_url=file_url, sample_url=sample_url, preview_url=preview_url)

    def count(self, query: Query, *, cancel: threading.Event | None = None) -> int | None:
        # The JSON has no total; the XML answer does, in <posts count="N" ...>.
        params = {"page": "dapi", "s": "post", "q": "index", "limit": 0, "tags": query.text}
        try:
            resp = self.http.get(self.api_url, params, cancel=cancel)
        except AuthError:
            raise self._auth_error() from None
        m = re.search(rb"<posts[^>]*\scount=\"(\d+)\"", resp.content[:4096])
        return int(m.group(1)) if m else None

    def _auth_error(self) -> AuthError:
        return AuthError(f"{self.site} refused the request, and it should not need an account",
                         Fix("{} or {} later", ChangeInput("booru.base_url", verb="check"), TryAgain()))


class DanbooruClient(Client):
    """Danbooru ``/posts.json``: up to 200 posts a page, tags already split by category."""

    source = "danbooru"
    page_size = 200
    max_offset = 1000 * 200  # page numbers stop at 1000; deeper uses page=b<id>

    def _auth(self) -> Any:
        return (self.credentials.user_id, self.credentials.api_key) if self.credentials else None

    def check(self, query: Query) -> None:
        super().check(query)
        query.check_danbooru_limit(self.authenticated)

    def _get_json(self, path: str, params: dict[str, Any], query: Query, cancel: threading.Event | None) -> Any:
        url = self.base_url + path
        try:
            resp = self.http.get(url, params, auth=self._auth(), cancel=cancel, allow=(410, 422))
        except AuthError:
            if self.credentials:
                raise AuthError("Danbooru rejected the login and API key",
                                Fix(f"check them at {DANBOORU_KEY_HELP} and {{}}",
                                    ChangeInput("booru.credentials", "danbooru"))) from None
            raise CredentialsNeeded("Danbooru refused the anonymous request",
                                    Fix(f"{{}} ({DANBOORU_KEY_HELP})",
                                        ChangeInput("booru.credentials", "danbooru", verb="sign in with"))) from None
        if resp.status_code == 422:
            message = _json_message(resp)
            if "tag" in message.lower() and ("limit" in message.lower() or "more than" in message.lower()):
                raise QueryError(f"Danbooru lets {'your account' if self.credentials else 'anonymous users'} search "
                                 f"only a few tags at a time ({message.rstrip('.')})",
                                 Fix("remove some tags") if self.credentials else
                                 Fix(f"remove some tags, or {{}} ({DANBOORU_KEY_HELP})",
                                     ChangeInput("booru.credentials", "danbooru", verb="sign in with")))
            raise QueryError(f"Danbooru did not accept the search ({message.rstrip('.') or 'HTTP 422'})",
                             Fix("{}", ChangeInput("booru.tags", verb="fix")))
        if resp.status_code == 410:
            return []  # paged past the end the site allows
        try:
            return resp.json()
        except ValueError:
            # Re-fetch through the retrying JSON path: a broken body is usually transient.
            return self.http.get_json(url, params, auth=self._auth(), cancel=cancel)

    def page(self, query: Query, index: int, *, before_id: int | None = None,
             cancel: threading.Event | None = None) -> Page:
        page = f"b{before_id}" if before_id is not None else index + 1
        data = self._get_json("/posts.json", {"tags": query.text, "limit": self.page_size, "page": page}, query, cancel)
        if isinstance(data, dict) and "post" in data:  # very old Danbooru 1 mirrors
            data = data["post"]
        if not isinstance(data, list):
            raise ServerError("Danbooru sent an answer of an unexpected shape", CHECK_URL)
        return Page([p for p in (self.parse_post(d) for d in post_list(self.site, data)) if p])

    def count(self, query: Query, *, cancel: threading.Event | None = None) -> int | None:
        try:
            data = self._get_json("/counts/posts.json", {"tags": query.text}, query, cancel)
        except ServerError:
            return None
        counts = data.get("counts") if isinstance(data, dict) else None
        return to_int(counts.get("posts")) if isinstance(counts, dict) else None

    def parse_post(self, d: dict[str, Any]) -> Post | None:
        pid = to_int(d.get("id"))
        if pid is None:
            return None
        tags = {cat: site_tags(d.get(f"tag_string_{cat}"), unescape=False)
                for cat in ("character", "copyright", "artist", "general", "meta")}
        file_url = self.absolute(d.get("file_url"))
        large = self.absolute(d.get("large_file_url"))
        return Post(
            source=self.source, id=pid, file_url=file_url, md5=to_md5(d.get("md5")),
            ext=str(d.get("file_ext") or ext_from(d.get("file_url"))).lower(),
            width=to_int(d.get("image_width")), height=to_int(d.get("image_height")),
            file_size=to_int(d.get("file_size")), sample_url=large if large and large != file_url else None,
            rating=normalise_rating(d.get("rating"), letters_are_danbooru=True), score=to_int(d.get("score")),
            tags={k: v for k, v in tags.items() if v}, categorised=True,
            preview_url=self.absolute(d.get("preview_file_url")),
        )


# Each registry entry names its client class in this module.
CLIENTS: dict[str, type[Client]] = {s.name: globals()[s.client] for s in SITES.values()}


def open_client(source: str, **kwargs: Any) -> Client:
    """A client for ``source`` (gelbooru / safebooru / danbooru); kwargs as :class:`Client`."""
    return CLIENTS[check_source(source)](**kwargs)


def _json_message(resp: requests.Response) -> str:
    try:
        data = resp.json()
    except ValueError:
        return ""
    return printable(str(data.get("message") or data.get("reason") or ""))[:300] if isinstance(data, dict) else ""


def _batches(names: Iterable[str], *, max_names: int, max_chars: int) -> Iterable[list[str]]:
    batch: list[str] = []
    size = 0
    for n in names:
        if batch and (len(batch) >= max_names or size + len(n) + 1 > max_chars):
            yield batch
            batch, size = [], 0
        batch.append(n)
        size += len(n) + 1
    if batch:
        yield batch
