"""The wizard shows tags and captions from a hostile site or a shared project as plain text (issue 14
item 10): Rich markup is not interpreted and escape sequences never reach the screen."""

from __future__ import annotations

from textual.app import App
from textual.widgets import TextArea
from wizard_support import flat, home, run, screen_text, wait_for, wizard_project  # noqa: F401

from tui_lora.core.booru import Post
from tui_lora.core.project import Project
from tui_lora.tui.app import WizardApp
from tui_lora.tui.fetch.booru_preview import BooruPreview
from tui_lora.tui.tags.screen import TagsScreen

MARKUP = "[bold red]boom[/]"


async def test_tag_table_and_caption_editor_show_tags_as_plain_text(wizard_project):
    project = wizard_project(images=2)
    folder = project.concepts()[0].path
    for cap in folder.glob("*.txt"):
        cap.write_text(f"ohwx, {MARKUP}, \x1b[2Jclear, \u202eevil", encoding="utf-8")
    app = WizardApp(Project.load(project.root), frozen=True)
    async with run(app) as pilot:
        await pilot.press("4")
        screen = app.screen
        assert isinstance(screen, TagsScreen)
        await wait_for(pilot, lambda: screen.summary is not None, what="the tag table")
        text = screen_text(app)
        assert MARKUP in text and "[2Jclear" in text and "\x1b" not in text and "\u202e" not in text
        await pilot.press("e")
        await wait_for(pilot, lambda: "Images with" in flat(app), what="the picker")
        assert MARKUP in screen_text(app) and "\x1b" not in screen_text(app)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen.focused, TextArea), what="the editor")
        area = app.screen.focused
        assert MARKUP in area.text and "\x1b" not in area.text and "\u202e" not in area.text
        assert MARKUP in screen_text(app)


class PreviewApp(App):
    def compose(self):
        yield BooruPreview(id="preview")


async def test_fetch_preview_shows_markup_literally():
    app = PreviewApp()
    async with app.run_test(size=(100, 10)) as pilot:
        post = Post("safebooru", 7, "http://x/7.png", None, "png", 64, 64, rating="general",
                    tags={"general": (MARKUP, "[link=http://evil]click[/link]")})
        app.query_one(BooruPreview).show([post])
        await pilot.pause()
        text = screen_text(app)
        assert "[bold red]boom[/]" in text and "[link=http://evil]click[/link]" in text
