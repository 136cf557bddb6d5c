"""The posts the fake booru serves: generated images with real md5s, tags by category, and the
awkward cases (gif, video, ugoira zip, a huge original with a sample, a hostile file name, a post
whose file Danbooru hides). Used by booru_server.py (tests, benchmarks/fetch.py and the demo)."""

from __future__ import annotations

import hashlib
import io
import random
from dataclasses import dataclass, field

HOSTILE_NAME = "../../../../tmp/evil name;rm -rf ~.png"


@dataclass
class FakePost:
    id: int
    data: bytes
    ext: str
    tags: dict[str, list[str]]
    rating: str = "general"
    score: int = 0
    width: int = 0
    height: int = 0
    sample: bytes | None = None
    image_name: str | None = None  # what the site calls the file; hostile on purpose in one post
    hidden: bool = False  # Danbooru hides file_url/md5 of some posts from anonymous users

    _md5: tuple[bytes, str] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def md5(self) -> str:
        if self._md5 is None or self._md5[0] is not self.data:  # tests swap .data; recompute then
            self._md5 = (self.data, hashlib.md5(self.data).hexdigest())
        return self._md5[1]

    @property
    def flat_tags(self) -> list[str]:
        return [t for cat in ("character", "copyright", "artist", "general", "meta") for t in self.tags.get(cat, [])]

    @property
    def name(self) -> str:
        return self.image_name or f"{self.md5}.{self.ext}"


def image_bytes(seed: int, size: tuple[int, int] = (48, 48), fmt: str = "png") -> bytes:
    from tui_lora.demo.datasets import make_image

    buf = io.BytesIO()
    make_image(seed, size).save(buf, format={"jpg": "JPEG"}.get(fmt, fmt.upper()))
    return buf.getvalue()


_CHARACTERS = (["hakurei_reimu"], ["kirisame_marisa"], ["hakurei_reimu", "kirisame_marisa"])
_GENERAL = ("1girl", "solo", "long_hair", "red_bow", "smile", "looking_at_viewer", "blush", "outdoors",
            "upper_body", "short_hair", "holding", "blue_eyes", "hair_ribbon", "sky")
_RATINGS = ("general", "sensitive", "general", "questionable", "explicit", "general")


def make_catalogue(images: int = 20, *, extras: bool = True, size: tuple[int, int] = (48, 48),
                   seed: int = 0) -> list[FakePost]:
    """``images`` downloadable posts (ids 1001…), plus, with ``extras``, one each of: gif, mp4,
    zip (ugoira), a huge original with a sample, a hostile file name, and a hidden Danbooru post."""
    rng = random.Random(seed)
    posts: list[FakePost] = []
    for i in range(images):
        pid = 1001 + i
        ext = "png" if i % 2 == 0 else "jpg"
        general = sorted(rng.sample(_GENERAL, 5))
        if i == 1:
            general += ["^_^", "jack-o'-lantern"]
        meta = ["highres"] + (["commentary_request"] if i % 3 == 0 else [])
        posts.append(FakePost(
            id=pid, data=image_bytes(seed * 10_000 + pid, size, ext), ext=ext,
            tags={"character": list(_CHARACTERS[i % 3]), "copyright": ["touhou"],
                  "artist": ["zun" if i % 2 else "ke-ta"], "general": general, "meta": meta},
            rating=_RATINGS[i % len(_RATINGS)], score=(i * 7) % 50, width=size[0], height=size[1],
        ))
    if extras:
        base = 1001 + images
        common = {"character": ["hakurei_reimu"], "copyright": ["touhou"], "general": ["1girl", "solo"]}
        posts += [
            FakePost(base, b"GIF89a" + bytes(64), "gif", {**common, "meta": ["animated"]}, score=10, width=48, height=48),
            FakePost(base + 1, b"\x00\x00\x00\x18ftypmp42" + bytes(64), "mp4", {**common, "meta": ["video"]},
                     score=10, width=48, height=48),
            FakePost(base + 2, b"PK\x03\x04" + bytes(64), "zip", {**common, "meta": ["ugoira"]}, score=10,
                     width=48, height=48),
            FakePost(base + 3, image_bytes(base + 3, size, "png"), "png",
                     {**common, "meta": ["absurdres", "highres"]}, score=40, width=4000, height=4000,
                     sample=image_bytes(base + 3, (40, 40), "jpg")),
            FakePost(base + 4, image_bytes(base + 4, size, "png"), "png", dict(common), score=5, width=size[0],
                     height=size[1], image_name=HOSTILE_NAME),
            FakePost(base + 5, image_bytes(base + 5, size, "jpg"), "jpg", dict(common), score=5, width=size[0],
                     height=size[1], hidden=True),
        ]
    return posts


def term_matches(post: FakePost, term: str, danbooru: bool) -> bool:
    neg = term.startswith("-")
    t = term[1:] if neg else term
    name, sep, value = t.partition(":")
    if sep and name in ("sort", "order"):
        return True
    if sep and name == "rating":
        wanted = set()
        for v in value.split(","):
            v = v.lower()
            wanted.add({"g": "general", "s": "sensitive" if danbooru else "general", "safe": "general",
                        "q": "questionable", "e": "explicit"}.get(v, v))
        result = post.rating in wanted
    elif sep and name in ("score", "id"):
        actual = post.score if name == "score" else post.id
        for op in (">=", "<=", ">", "<", ""):
            if value.startswith(op):
                try:
                    n = int(value[len(op):])
                except ValueError:
                    return False
                result = {">=": actual >= n, "<=": actual <= n, ">": actual > n, "<": actual < n, "": actual == n}[op]
                break
    else:
        result = t in post.flat_tags
    return result != neg
