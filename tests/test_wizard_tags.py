"""Pilot tests of the Tags screen: the tiny WD14 tagger run with keys (progress, stop, modes), and
every pruning action with keys, checking the caption files on disk and that undo restores them
byte for byte."""

import tomllib

import pytest
from textual.widgets import Input, TextArea

from tui_lora.core.project import Project
from tui_lora.demo.datasets import write_dataset
from tui_lora.demo.tiny_tagger import build_tiny_wd14
from tui_lora.tui.app import WizardApp
from tui_lora.tui.common.confirm import ConfirmScreen
from tui_lora.tui.tags.screen import TagsScreen
from tui_lora.tui.tags.tag_table import TagTable
from wizard_support import flat, home, run, screen_text, wait_for, wizard_project  # noqa: F401


@pytest.fixture(scope="module")
def tiny_wd14(tmp_path_factory):
    return build_tiny_wd14(tmp_path_factory.mktemp("wd14") / "tiny")


def captions(project) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(project.concepts()[0].path.glob("*.txt"))}


def status(app) -> str:
    return " ".join(str(app.screen.query_one("#tags-status").content).split())


def info(app) -> str:
    """The side panel's facts in one line (on screen they wrap beside the table)."""
    return " ".join(app.screen.query_one("#tags-info").content.plain.split())


def settings(project) -> dict:
    return tomllib.loads(project.toml_path.read_text())


async def open_tags(pilot) -> TagsScreen:
    await pilot.press("4")
    screen = pilot.app.screen
    assert isinstance(screen, TagsScreen)
    await wait_for(pilot, lambda: screen.summary is not None, what="the tag table")
    return screen


async def done(pilot, text: str, timeout: float = 10.0) -> None:
    """Wait until the running operation has finished with ``text`` in the status line."""
    screen = pilot.app.screen
    await wait_for(pilot, lambda: text in status(pilot.app) and not screen.busy, timeout=timeout, what=text)
    await wait_for(pilot, lambda: not screen.workers, timeout=timeout, what="the table to reload")


def rows(app) -> list[str]:
    table = app.screen.query_one(TagTable)
    return [str(k.value) for k in table.rows]


def make(wizard_project, n: int, *, captions_too: bool, model=None):
    project = wizard_project("proj", images=0)
    write_dataset(project.concepts()[0].path, n, size=(32, 32), captions=captions_too, trigger="ohwx")
    if model is not None:
        project.set("tags.tagger_model", str(model))
        project.save()
    return project


async def test_tagger_run_thresholds_modes_and_undo(wizard_project, tiny_wd14):
    project = make(wizard_project, 6, captions_too=False, model=tiny_wd14)
    app = WizardApp(Project.load(project.root), frozen=True)
    async with run(app) as pilot:
        screen = await open_tags(pilot)
        assert "6 images, 0 captioned, 0 tags · 6 without caption" in screen_text(app)
        screen.query_one("#threshold", Input).focus()
        await pilot.press("ctrl+u", *"0.2", "tab")  # leaving the field saves it
        assert settings(project)["tags"]["threshold"] == 0.2
        screen.query_one(TagTable).focus()
        await pilot.press("r")
        await done(pilot, "Tagged 6 of 6 images on cpu (u undoes it).")
        first = captions(project)
        assert len(first) == 6
        for text in first.values():
            tags = text.decode().split(", ")
            assert tags[:3] == ["ohwx", "kagamine rin", "some artist"]  # trigger first, then names
            assert "short hair" in tags  # p = 0.30: written at threshold 0.2, not at 0.35
        assert rows(app)[:1] and "kagamine rin" in rows(app)
        await pilot.press("r")  # captions exist now: it asks what to do with them
        await pilot.pause()
        assert "6 of 6 images already have captions" in flat(app)
        await pilot.press("m")  # only images without a caption
        await done(pilot, "Nothing to tag: every image already has a caption (mode missing).")
        assert captions(project) == first
        await pilot.press("u")
        await done(pilot, "Undid tag-wd14")
        assert captions(project) == {}  # the files the tagger created are gone again
        assert rows(app) == []


async def test_stopping_the_tagger_keeps_what_it_wrote(wizard_project, tmp_path):
    slow = build_tiny_wd14(tmp_path / "slow", size=448, mlp_layers=3, mlp_width=512)  # ~1 s a batch of 8 here
    # Far more images than can be tagged before esc lands, even on a CPU several times faster than
    # this one (CI once finished 40 between the progress bar showing and the key being handled).
    total = 400
    project = make(wizard_project, total, captions_too=False, model=slow)
    app = WizardApp(Project.load(project.root), frozen=True)
    async with run(app) as pilot:
        screen = await open_tags(pilot)
        await pilot.press("r")
        await wait_for(pilot, lambda: screen.query_one("#tags-progress").display, timeout=20, what="progress")
        assert "esc Stop tagging" in screen_text(app) and "images ·" in screen_text(app)
        await pilot.press("escape")
        await done(pilot, "Stopped after tagging", timeout=20)
        assert isinstance(app.screen, TagsScreen)  # esc stopped the run, it did not leave the screen
        written = captions(project)
        assert 0 < len(written) < total
        assert f"Stopped after tagging {len(written)} of {total} images" in status(app)
        await pilot.press("u")
        await done(pilot, "Undid tag-wd14")
        assert captions(project) == {}


async def test_undo_over_a_later_hand_edit_asks_first(wizard_project):
    """Undo that would overwrite a caption edited since (an UndoConflict, told apart by its type, not
    by its words) says so, then asks; "Keep them" leaves the edit, "Undo anyway" restores."""
    project = make(wizard_project, 4, captions_too=True)
    before = captions(project)
    app = WizardApp(Project.load(project.root), frozen=True)
    async with run(app) as pilot:
        await open_tags(pilot)
        removed = rows(app)[1]
        await pilot.press("down", "space", "d")
        await done(pilot, f"Removed {removed} from")
        edited = next(p for p in sorted(project.concepts()[0].path.glob("*.txt")))
        edited.write_text("edited by hand")
        await pilot.press("u")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the question")
        assert "1 file changed after the remove operation" in flat(app) and "Undo anyway" in flat(app)
        assert "tui-lora" not in flat(app) and "--force" not in flat(app)
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, TagsScreen), what="the Tags step")
        assert edited.read_text() == "edited by hand"
        assert status(app).startswith("1 file changed after the remove operation (first: dataset/")
        await pilot.press("u")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the question again")
        await pilot.press("y")
        await done(pilot, "Undid remove")
        assert captions(project) == before

async def test_every_pruning_action_with_keys_and_undo_byte_for_byte(wizard_project):
    project = make(wizard_project, 8, captions_too=True)
    folder = project.concepts()[0].path
    for name in ("img_0001.txt", "img_0004.txt"):  # junk the site left in two captions
        (folder / name).write_bytes((folder / name).read_bytes() + b", highres, commentary request")
    bom = folder / "img_0005.txt"  # Notepad's byte-order mark and a repeated tag
    bom.write_bytes(b"\xef\xbb\xbf" + bom.read_bytes() + b", smile, smile")
    project.set("dataset.keep_tokens", 0)
    project.save()
    before, toml_before = captions(project), project.toml_path.read_bytes()
    app = WizardApp(Project.load(project.root), frozen=True)
    async with run(app) as pilot:
        await open_tags(pilot)
        assert rows(app)[0] == "ohwx", screen_text(app)
        assert "Junk 2 here: commentary request, highres (j)" in info(app)
        assert "1 caption needs cleaning (c)" in info(app)
        await pilot.press("c")
        await done(pilot, "Cleaned 1 caption (repeated tags, stray bytes)")
        assert not bom.read_bytes().startswith(b"\xef\xbb\xbf") and bom.read_text().count("smile") == 1
        await pilot.press("ctrl+z")
        await done(pilot, "Undid dedupe")
        assert captions(project) == before
        # Mark two rows with space and remove them.
        await pilot.press("down", "space", "space")
        marked = rows(app)[1:3]
        await pilot.press("d")
        await done(pilot, f"Removed {marked[0]}, {marked[1]} from")
        text = b"".join(captions(project).values()).decode()
        assert marked[0] not in text and marked[1] not in text
        await pilot.press("u")
        await done(pilot, "Undid remove")
        assert captions(project) == before
        # Merge two tags into one.
        merged = rows(app)[1:3]
        await pilot.press("home", "down", "space", "space", "m")
        await wait_for(pilot, lambda: f"any of {merged[0]} (" in flat(app), what="the merge dialog")
        await pilot.press("ctrl+u", *"merged tag", "enter")
        await done(pilot, "into 'merged tag' in")
        assert "merged tag" in rows(app)
        assert not set(merged) & set(rows(app))
        # The trigger word: first everywhere, keep_tokens set.
        await pilot.press("t")
        await wait_for(pilot, lambda: "keep_tokens is 0 now and becomes 1" in flat(app), what="the trigger dialog")
        await pilot.press("ctrl+u", *"sks", "enter")
        await done(pilot, "'sks' is now first in 8 captions; set project.trigger_word = sks, dataset.keep_tokens = 1")
        assert all(v.startswith(b"sks, ") and b"ohwx" not in v for v in captions(project).values())
        assert settings(project)["dataset"]["keep_tokens"] == 1 and "ohwx" not in info(app)
        assert "Trigger sks · keep_tokens 1" in info(app)
        # The junk list: shown, previewed, applied.
        await pilot.press("j")
        await wait_for(pilot, lambda: "Removes 2 tags from 2 captions: commentary request (2), highres (2)"
                       in flat(app), what="the junk preview")
        assert "absurdres, highres" in flat(app)
        await pilot.press("ctrl+s")
        await done(pilot, "Removed junk tags from 2 captions")
        assert b"highres" not in b"".join(captions(project).values())
        # Remove by pattern.
        await pilot.press("p", *"*hair")
        await wait_for(pilot, lambda: "Removes" in flat(app) and "hair (" in flat(app), what="the pattern preview")
        await pilot.press("enter")
        await done(pilot, "Removed the tags matching *hair from")
        assert not [r for r in rows(app) if r.endswith("hair")]
        # One caption by hand: the images carrying the tag under the cursor, then the editor.
        await pilot.press("home")
        await pilot.press("e")
        await wait_for(pilot, lambda: "Images with 'sks' (8)" in flat(app), what="the picker")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen.focused, TextArea), what="the editor")
        assert "Caption of 10_ohwx/img_0000.png" in flat(app)
        await pilot.press(*", by hand", "ctrl+s")
        await done(pilot, "Saved the caption of dataset/10_ohwx/img_0000.png")
        assert (folder / "img_0000.txt").read_text().endswith(", by hand")
        # Sorting, the history, and undo all the way back, byte for byte.
        await pilot.press("s")
        assert rows(app) == sorted(rows(app), key=str.casefold)
        await pilot.press("h")
        await wait_for(pilot, lambda: "Caption history" in flat(app), what="the history")
        history = app.screen.query_one("#history-text").content.plain.splitlines()
        assert [line.split()[3] for line in history] == ["edit", "remove-pattern", "junk", "trigger", "replace",
                                                         "remove", "dedupe"]
        assert "undone" in history[-1] and "undoable" in history[0]
        await pilot.press("u")  # undo from the history: the caption edit
        await done(pilot, "Undid edit")
        for op in ("remove-pattern", "junk", "trigger", "replace"):
            await pilot.press("u")
            await done(pilot, f"Undid {op}")
        assert captions(project) == before and project.toml_path.read_bytes() == toml_before
        assert app.project.settings["project"]["trigger_word"] == "ohwx"
        await pilot.press("u")
        await done(pilot, "There is nothing to undo")


async def test_blip_captions_in_a_child_process_from_the_tags_screen(wizard_project, tmp_path):
    """BLIP needs torch, which the wizard never imports: choosing it in the panel runs
    `tui-lora tag --backend blip` as a child, with the same status sentence, table and undo."""
    from support.tiny_blip import build_tiny_blip

    blip = build_tiny_blip(tmp_path / "blip")
    project = make(wizard_project, 3, captions_too=False, model=blip)
    app = WizardApp(Project.load(project.root), frozen=True)
    async with run(app) as pilot:
        screen = await open_tags(pilot)
        assert screen.query_one("#field-threshold").display
        screen.query_one("#tagger_backend").focus()
        await pilot.press("enter", "down", "enter")  # BLIP · sentences
        await wait_for(pilot, lambda: settings(project)["tags"]["tagger"] == "blip", what="the saved choice")
        assert not screen.query_one("#field-threshold").display  # confidences are WD14's alone
        assert not screen.query_one("#field-char_threshold").display
        screen.query_one(TagTable).focus()
        await pilot.press("r", "escape")  # esc while the child still starts: it ends, nothing written
        await done(pilot, "Stopped before any image was captioned; nothing was written.", timeout=60)
        assert captions(project) == {} and screen._child is None
        await pilot.press("r")
        await done(pilot, "Tagged 3 of 3 images on cpu (u undoes it).", timeout=120)
        written = captions(project)
        assert len(written) == 3 and all(text.startswith(b"ohwx, ") for text in written.values())
        # the status comes first; the table reloads in a worker right after it
        await wait_for(pilot, lambda: "ohwx" in rows(app), what="the reloaded table")
        await pilot.press("u")
        await done(pilot, "Undid tag-blip")
        assert captions(project) == {}


async def test_a_tagger_that_cannot_load_says_so_once_in_the_wizards_words(wizard_project, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the default WD14 repo, never downloaded here
    project = make(wizard_project, 2, captions_too=False)
    app = WizardApp(Project.load(project.root), frozen=True)
    async with run(app) as pilot:
        screen = await open_tags(pilot)
        before = len(app._notifications)
        await pilot.press("r")
        await wait_for(pilot, lambda: not screen.busy and "not downloaded yet" in status(app), timeout=30,
                       what="the error")
        await pilot.pause(0.2)
        said = status(app)
        assert "set Model in the panel to a local folder holding model.onnx" in said and "--model" not in said
        assert [n.message for n in list(app._notifications)[before:]] == [said]
        assert captions(project) == {}
