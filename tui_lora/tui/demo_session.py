"""What the wizard does differently for a DEMO project (see tui_lora/demo/project.py): it says so
on every screen, and it runs a local fake booru in this process so the Fetch step works with no
account and no internet — the Fetch form is pre-filled with its address and a search.

No textual here: the app calls :func:`prepare` when it opens a project.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tui_lora.demo.project import is_demo

if TYPE_CHECKING:
    from tui_lora.core.project import Project
    from tui_lora.demo.booru_server import BooruServer

BANNER = ("DEMO PROJECT · generated images, a tiny random-weights model and a local fake booru: every "
          "step works with no account, GPU or internet, training takes about a minute on a CPU, and the "
          "LoRA it makes is not useful. Walk the steps: 2 Fetch, 3 Review, 4 Tags, 5 Steps, 6 Train, 7 Compare "
          "(p keeps the best, e exports it as you would a real one).")
DEMO_SEARCH = "hakurei_reimu solo"

_server: "BooruServer | None" = None


def booru() -> "BooruServer":
    """The fake booru of this process (started on first use; a daemon thread on 127.0.0.1)."""
    global _server
    if _server is None:
        from tui_lora.demo.booru_server import BooruServer, make_catalogue

        # 128 px posts (the demo trains at 64 px, so fetched images pass Review), all rated general,
        # no odd extras; Gelbooru answers without an account here.
        posts = make_catalogue(40, extras=False, size=(128, 128), seed=5)
        for post in posts:
            post.rating = "general"
        _server = BooruServer(posts=posts, require_gelbooru_auth=False).start()
    return _server


def prepare(project: "Project") -> bool:
    """For a demo project: start the fake booru and point its Fetch form at it. True for a demo."""
    if not is_demo(project.root):
        return False
    from tui_lora.tui.fetch import fetchform

    server = booru()
    form = fetchform.load_memory(project.root)
    for source in ("gelbooru", "safebooru", "danbooru"):
        form.base_urls[source] = server.base_url(source)  # a new port every session
    if not form.tags.strip():
        form.source, form.tags, form.rating, form.limit = "safebooru", DEMO_SEARCH, "general", "10"
    if not form.folder and project.concepts():
        form.folder = project.concepts()[0].folder
    fetchform.save_memory(project.root, form)
    return True
