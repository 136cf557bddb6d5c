"""Pilot tests of the Fetch screen against the fake booru (tui_lora/demo/booru_server.py): the live count
while typing (debounced), the preview, credentials, the one-sentence errors, download and cancel."""

import hashlib
import stat

from textual.widgets import Input

from tui_lora.core.booru.credentials import CREDENTIALS_FILE
from tui_lora.core.project import Project
from tui_lora.core.userconfig import user_config_dir
from tui_lora.tui.app import WizardApp
from tui_lora.tui.fetch.booru_preview import BooruPreview
from tui_lora.tui.fetch.screen import FetchScreen
from tui_lora.tui.project.screen import ProjectScreen
from wizard_support import flat, home, run, screen_text, wait_for, wizard_project  # noqa: F401 - fixtures


SOURCE_ORDER = ("safebooru", "gelbooru", "danbooru")  # as the Source list shows them


async def open_fetch(pilot, srv, source: str = "safebooru") -> FetchScreen:
    """Open Fetch, pick ``source`` with the keyboard, and point it at the fake booru."""
    await pilot.press("2")
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, FetchScreen)
    if source != "safebooru":
        await choose(pilot, "source", SOURCE_ORDER.index(source))
    screen.query_one("#base_url", Input).value = srv.base_url(source)  # (typing is tested with the tags)
    return screen


async def type_into(pilot, input_id: str, text: str) -> None:
    pilot.app.screen.query_one(f"#{input_id}", Input).focus()
    await pilot.pause()
    await pilot.press("ctrl+u", *text)


async def choose(pilot, select_id: str, downs: int) -> None:
    """Pick an option of a Select with the keyboard: open it, move down, enter."""
    pilot.app.screen.query_one(f"#{select_id}").focus()
    await pilot.press("enter", *["down"] * downs, "enter")
    await pilot.pause()


def status(app) -> str:
    """The status line under the preview (a toast may cover it on screen)."""
    return " ".join(str(app.screen.query_one("#fetch-status").content).split())


def images_in(folder):
    return sorted(p for p in folder.iterdir() if p.suffix in (".png", ".jpg"))


def assert_complete(srv, folder) -> None:
    """Every visible image is whole (the server's md5) and has its caption; nothing else is visible."""
    for p in folder.iterdir():
        if p.name.startswith("."):
            continue  # hidden .part files: resumed by the next download
        if p.suffix == ".txt":
            assert any(p.with_suffix(s).exists() for s in (".png", ".jpg")), p
            continue
        post = srv.post(int(p.stem.split("_")[1]))
        assert hashlib.md5(p.read_bytes()).hexdigest() == post.md5, p
        assert p.with_suffix(".txt").read_text().startswith(post.tags["character"][0].replace("_", " "))


async def test_live_count_preview_and_download(wizard_project, booru_server):
    srv = booru_server
    project = wizard_project("proj", images=0)
    app = WizardApp(Project.load(project.root), frozen=True)
    async with run(app) as pilot:
        screen = await open_fetch(pilot, srv)
        before = len(srv.api_requests())
        await type_into(pilot, "tags", "hakurei_reimu")
        await wait_for(pilot, lambda: "19 posts match \"hakurei_reimu\" on Safebooru" in flat(app), what="the count")
        pages = [r for r in srv.api_requests()[before:] if r.query.get("s") == "post" and r.query.get("limit") != "0"]
        assert len(pages) <= 2  # 13 keystrokes, one search (debounced), not one per key
        table = screen.query_one(BooruPreview)
        assert table.row_count == 8 and "1026" in screen_text(app) and "4000×4000" in screen_text(app)
        await choose(pilot, "rating", 1)  # general
        await wait_for(pilot, lambda: "(rating general)" in flat(app), what="the filtered count")
        newest = [row.value for row in list(table.rows)[:4]]  # the preview lists newest first
        await type_into(pilot, "limit", "4")
        await pilot.press("ctrl+d")
        await wait_for(pilot, lambda: "Downloaded 4 new images" in status(app), timeout=20, what="the download")
        assert "Next: 3 Review" in status(app)
        folder = project.concepts()[0].path
        images = images_in(folder)
        assert sorted(p.stem for p in images) == sorted(f"safebooru_{i}" for i in newest)
        assert_complete(srv, folder)
        await pilot.press("ctrl+p")
        assert isinstance(app.screen, ProjectScreen)
        await wait_for(pilot, lambda: "4 images, 4 captions" in flat(app), what="the overview")


async def test_gelbooru_asks_for_an_account_and_saves_it_privately(wizard_project, booru_server):
    srv = booru_server
    project = wizard_project("proj", images=0)
    uid, key = srv.gelbooru_credentials
    app = WizardApp(Project.load(project.root), frozen=True)
    async with run(app) as pilot:
        await open_fetch(pilot, srv, "gelbooru")
        assert "Gelbooru needs an account. Get both at gelbooru.com → My Account → Options" in flat(app)
        await type_into(pilot, "tags", "kirisame_marisa")
        # One condition for the whole sentence: under load a repaint can land between two reads.
        await wait_for(pilot, lambda: "Gelbooru now requires an account for API searches" in flat(app)
                       and "fill in the account fields, or try Safebooru as the source." in flat(app),
                       timeout=15, what="the 401 sentence")
        await type_into(pilot, "user_id", uid)
        await type_into(pilot, "api_key", key)
        await wait_for(pilot, lambda: "posts match \"kirisame_marisa\" on Gelbooru" in flat(app), what="the count")
        await wait_for(pilot, lambda: "✓ Saved to" in flat(app), what="the saved note")
        assert key not in screen_text(app) and "•" * len(key) in screen_text(app)
        await pilot.press("ctrl+p")  # leaving remembers the form (never the key)
    path = user_config_dir() / CREDENTIALS_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and key in path.read_text()
    assert not [p for p in user_config_dir().glob("wizard-*") if key in p.read_text()]

    app = WizardApp(Project.load(project.root), frozen=True)
    async with run(app) as pilot:
        await pilot.press("2")
        await wait_for(pilot, lambda: "posts match \"kirisame_marisa\" on Gelbooru" in flat(app),
                       what="the remembered search")
        assert f"Using your saved account (user {uid}, key hidden)" in flat(app)
        assert app.screen.query_one("#api_key", Input).value == "" and key not in screen_text(app)


async def test_danbooru_limit_and_network_errors_are_one_sentence(wizard_project, booru_server):
    srv = booru_server
    project = wizard_project("proj", images=0)
    app = WizardApp(Project.load(project.root), frozen=True)
    async with run(app) as pilot:
        await open_fetch(pilot, srv, "danbooru")
        await type_into(pilot, "tags", "hakurei_reimu solo smile")
        await pilot.pause(0.8)
        assert ("Danbooru lets anonymous users search 2 tags at a time and this search counts 3 (best-score "
                "order counts, rating and score do not); remove some tags, or fill in Login and API key.") in flat(app)
        assert not srv.api_requests()  # refused before asking the site
        await pilot.press("backspace", *"backspace" and ["backspace"] * 5)
        await wait_for(pilot, lambda: "posts match \"hakurei_reimu solo\" on Danbooru" in flat(app), what="count")
        app.screen.query_one("#base_url", Input).value = "http://127.0.0.1:9"
        await wait_for(pilot, lambda: "Could not reach 127.0.0.1:9 (connection refused); check the internet "
                                      "connection (or the Base URL) and try again." in flat(app),
                       timeout=10, what="the network error")
        await type_into(pilot, "folder", "reimu")
        await pilot.press("ctrl+d")
        assert "The folder 'reimu' must look like <repeats>_<name> (e.g. 10_reimu)" in status(app)
        assert isinstance(app.screen, FetchScreen) and not app.screen.downloading


async def test_cancel_leaves_no_half_written_image_and_download_resumes(wizard_project, booru_server):
    srv = booru_server
    srv.slow_seconds = 4.0
    for post in srv.posts:
        srv.quirk(post.id, "stall", times=1)  # half the bytes, then silence
    project = wizard_project("proj", images=0)
    app = WizardApp(Project.load(project.root), frozen=True)
    async with run(app) as pilot:
        screen = await open_fetch(pilot, srv)
        await type_into(pilot, "tags", "touhou")
        await type_into(pilot, "folder", "5_touhou")
        await type_into(pilot, "limit", "6")
        await wait_for(pilot, lambda: "posts match" in flat(app), what="the count")
        await pilot.press("ctrl+d")
        await wait_for(pilot, lambda: srv.in_flight > 0, timeout=10, what="files in flight")
        assert "esc Cancel download" in screen_text(app)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not screen.downloading, timeout=10, what="the cancel")
        assert "Cancelled after 0 new images" in status(app) and isinstance(app.screen, FetchScreen)
        folder = project.dataset_dir / "5_touhou"
        assert not images_in(folder) and [p for p in folder.iterdir() if p.name.endswith(".part")]
        assert_complete(srv, folder)
        srv.slow_seconds = 0.0  # the server recovers: this run resumes the .part files
        await pilot.press("ctrl+d")
        await wait_for(pilot, lambda: "Downloaded 6 new images" in status(app), timeout=20, what="the resume")
        assert len(images_in(folder)) == 6 and not [p for p in folder.iterdir() if p.name.startswith(".")]
        assert_complete(srv, folder)
