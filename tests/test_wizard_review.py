"""Pilot tests of the Review screen: every action driven with keys, checked on disk (files moved to
dataset/.trash/, fixed, restored byte for byte), snapshots at 80×24, and the grid staying virtual
with 1,000 images."""

import json

from PIL import Image

from tui_lora.core.dataset.trash import list_trash
from tui_lora.core.project import Project
from tui_lora.demo.datasets import write_dataset, write_problem_images
from tui_lora.tui.app import WizardApp
from tui_lora.tui.review.screen import ReviewScreen
from tui_lora.tui.review.thumb_cell import ThumbCell
from wizard_support import assert_snapshot, flat, home, run, screen_text, wait_for, wizard_project  # noqa: F401 - fixtures


def make(wizard_project, n: int = 6, name: str = "proj"):
    """n good 96 px images, then truncated.png, tiny.png, transparent.png and img_0002_copy.jpg."""
    project = wizard_project(name, images=0)
    folder = project.concepts()[0].path
    images = write_dataset(folder, n, size=(96, 96), trigger="ohwx")
    bad = write_problem_images(folder, near_copy_of=images[2], trigger="ohwx")
    project.set("dataset.resolution", 64)
    project.set("dataset.min_bucket_reso", 64)
    project.save()
    return project, images, bad


def files(project) -> dict[str, bytes]:
    folder = project.concepts()[0].path
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


async def idle(pilot, review: ReviewScreen, timeout: float = 20.0) -> None:
    """Wait until the scan, the grouping and any action have finished."""
    def done() -> bool:
        running = [w for w in review.workers if w.group in ("load", "op") and w.is_running]
        return not running and not review.busy and review.data is not None and review.data.dedupe is not None
    await wait_for(pilot, done, timeout=timeout, what="the review to settle")
    await pilot.pause()


async def open_review(pilot) -> ReviewScreen:
    await pilot.press("3")
    review = pilot.app.screen
    assert isinstance(review, ReviewScreen)
    await idle(pilot, review)
    return review


def status(review: ReviewScreen) -> str:
    return " ".join(str(review.query_one("#review-status").content).split())


async def keys(pilot, review: ReviewScreen, *pressed: str) -> None:
    await pilot.press(*pressed)
    await idle(pilot, review)


async def test_review_grid_filters_and_help(wizard_project):
    project, _, _ = make(wizard_project)
    app = WizardApp(Project.load(project.root), frozen=True)
    async with run(app) as pilot:
        review = await open_review(pilot)
        assert "10 images · 3 with problems · 1 duplicate group" in screen_text(app)
        assert_snapshot(app, "review")
        await pilot.press("f")
        await pilot.pause()
        assert_snapshot(app, "review_filter")
        await pilot.press("down", "down", "down", "down", "enter")  # the first problem: corrupt
        await idle(pilot, review)
        assert [it.name for it in review.grid.items] == ["truncated.png"]
        assert "Corrupt or truncated image: x moves it (and its caption) to dataset/.trash/" in status(review)
        assert "✗ corrupt or truncated image" in flat(app)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: "Help: Review" in screen_text(app), what="the help")
        assert_snapshot(app, "help_review")


async def test_mark_trash_and_undo_with_keys(wizard_project):
    project, images, _ = make(wizard_project)
    before = files(project)
    app = WizardApp(Project.load(project.root), frozen=True)
    async with run(app) as pilot:
        review = await open_review(pilot)
        await pilot.press("space", "space")  # marks img_0000, moves on, marks img_0001
        assert review.grid.marked == {str(images[0]), str(images[1])}
        await keys(pilot, review, "d")
        now = files(project)
        assert "img_0000.png" not in now and "img_0000.txt" not in now and "img_0001.png" not in now
        trashed = {f.original.rsplit("/", 1)[-1] for e in list_trash(project) for f in e.files}
        assert trashed == {"img_0000.png", "img_0000.txt", "img_0001.png", "img_0001.txt"}
        assert "Moved 2 files to the trash" in status(review)
        assert review.grid.current.name == "img_0002.png"  # the cursor stays in place
        await keys(pilot, review, "d")  # no marks: the one under the cursor
        assert "img_0002.png" not in files(project)
        await keys(pilot, review, "u")
        assert "img_0002.png" in files(project) and "img_0000.png" not in files(project)
        await keys(pilot, review, "u")
        assert files(project) == before  # byte for byte, captions included
        assert not list_trash(project)


async def test_fix_selected_then_everything_fixable(wizard_project):
    project, _, bad = make(wizard_project)
    app = WizardApp(Project.load(project.root), frozen=True)
    async with run(app) as pilot:
        review = await open_review(pilot)
        await pilot.press("f", *["down"] * 6, "enter")  # all, problems, dupes, trash, corrupt, small, transparent
        await idle(pilot, review)
        assert [it.name for it in review.grid.items] == ["transparent.png"]
        assert "x composites it onto white" in status(review)
        await keys(pilot, review, "x")
        with Image.open(bad["transparent"]) as im:
            assert im.mode == "RGB" and im.getpixel((0, 0)) == (255, 255, 255)
        assert "Fixed 1 file" in status(review)
        assert review.grid.items == []  # no longer transparent
        assert [e.reason for e in list_trash(project)] == ["fix: transparency"]
        await pilot.press("f", "enter")  # back to all files
        await idle(pilot, review)
        await pilot.press("X")
        await wait_for(pilot, lambda: "Fix 1 file (1 corrupt or truncated image)?" in flat(app), what="the question")
        await keys(pilot, review, "y")
        assert not bad["truncated"].exists() and not bad["truncated"].with_suffix(".txt").exists()
        assert "Moved 1 unreadable file to the trash; u undoes it." in status(review)
        await keys(pilot, review, "u")
        assert bad["truncated"].exists() and bad["truncated"].with_suffix(".txt").exists()


async def test_duplicates_keep_keeper_keep_this_and_keep_all(wizard_project):
    project, images, bad = make(wizard_project)
    keeper, copy = images[2], bad["near_copy"]
    app = WizardApp(Project.load(project.root), frozen=True)
    async with run(app) as pilot:
        review = await open_review(pilot)
        await keys(pilot, review, "tab", "tab")
        assert [it.name for it in review.grid.items] == ["img_0002.png", "img_0002_copy.jpg"]
        assert review.grid.current.keeper
        assert_snapshot(app, "review_dupes")
        await keys(pilot, review, "k")  # keep the suggested keeper: the copy goes
        assert keeper.exists() and not copy.exists()
        assert "duplicates of img_0002.png" in status(review)
        await keys(pilot, review, "u")
        assert copy.exists()
        await keys(pilot, review, "right", "k")  # keep the copy instead
        assert copy.exists() and not keeper.exists() and copy.with_suffix(".txt").exists()
        await keys(pilot, review, "u")
        assert keeper.exists()
        await keys(pilot, review, "n")  # keep all: not duplicates, remembered
        assert review.grid.items == [] and keeper.exists() and copy.exists()
        saved = json.loads((project.cache_dir / "review.json").read_text())
        assert len(saved["not_duplicates"]) == 1 and len(saved["not_duplicates"][0]) == 2
        assert "duplicate group" not in screen_text(app)
        await keys(pilot, review, "s")  # a rescan keeps the answer
        assert review.grid.items == []


async def test_trash_view_restores_one_then_everything(wizard_project):
    project, images, bad = make(wizard_project)
    before = files(project)
    app = WizardApp(Project.load(project.root), frozen=True)
    async with run(app) as pilot:
        review = await open_review(pilot)
        await keys(pilot, review, "d")
        await keys(pilot, review, "end", "d")  # truncated.png, the last file
        await keys(pilot, review, "shift+tab")  # all → trash
        assert review.view == "trash"
        assert [it.name for it in review.grid.items] == ["truncated.png", "img_0000.png"]  # newest first
        assert_snapshot(app, "review_trash")
        await keys(pilot, review, "right", "r")
        assert images[0].exists() and not bad["truncated"].exists()
        assert "Restored 1 entry from the trash." in status(review)
        await pilot.press("R")
        await wait_for(pilot, lambda: "Put all 1 entry back" in flat(app), what="the question")
        await keys(pilot, review, "y")
        assert files(project) == before
        assert "The trash is empty." in flat(app)


async def test_full_screen_preview_flips_and_trashes(wizard_project):
    project, images, _ = make(wizard_project)
    app = WizardApp(Project.load(project.root), frozen=True)
    async with run(app) as pilot:
        review = await open_review(pilot)
        await pilot.press("enter")
        await wait_for(pilot, lambda: "←/→ previous/next" in screen_text(app), what="the preview")
        caption = images[0].with_suffix(".txt").read_text()
        assert "img_0000.png" in flat(app) and caption in flat(app)
        await pilot.press("right")
        await pilot.pause()
        assert "img_0001.png" in flat(app)
        await keys(pilot, review, "d")
        assert not images[1].exists()
        await wait_for(pilot, lambda: "img_0002.png" in flat(app), what="the next image")
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is review


async def test_grid_stays_virtual_with_1000_images(wizard_project):
    project = wizard_project("big", images=0)
    write_dataset(project.concepts()[0].path, 1000, size=(40, 40), captions=False)
    app = WizardApp(Project.load(project.root), frozen=True)
    async with run(app) as pilot:
        await pilot.press("3")
        review = app.screen
        await idle(pilot, review, timeout=60)
        await app.workers.wait_for_complete()
        cells = review.query(ThumbCell)
        assert len(cells) == 6  # 3 × 2 at 80×24, not 1,000 widgets
        first = review.loader.loaded
        assert 0 < first <= 12  # this page and the next
        for _ in range(20):
            await pilot.press("pagedown")
        await app.workers.wait_for_complete()
        assert review.grid.position() == (121, 1000)
        assert len(review.query(ThumbCell)) == 6
        await pilot.press("end")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert review.grid.position() == (1000, 1000)
        assert "img_0999.png" in flat(app)
        # Only pages the cursor stopped on were loaded: far fewer than 1,000.
        assert review.loader.loaded <= 6 * 2 * 22


async def test_crop_an_extreme_aspect_image_with_keys_and_undo(wizard_project):
    project = wizard_project("proj", images=0)
    folder = project.concepts()[0].path
    write_dataset(folder, 3, size=(96, 96), trigger="ohwx")
    wide = folder / "wide.png"
    Image.new("RGB", (320, 96), (200, 40, 40)).save(wide)
    wide.with_suffix(".txt").write_text("ohwx, red\n")
    project.set("dataset.resolution", 64)
    project.set("dataset.min_bucket_reso", 64)
    project.save()
    before = files(project)
    app = WizardApp(Project.load(project.root), frozen=True)
    async with run(app) as pilot:
        review = await open_review(pilot)
        await pilot.press("f", "down", "enter")  # the files with problems
        await idle(pilot, review)
        assert [it.name for it in review.grid.items] == ["wide.png"]
        assert "crop it (c), or move it to the trash (d)" in flat(app)  # the side panel's advice
        await pilot.press("c")
        await wait_for(pilot, lambda: "Crop wide.png in place" in flat(app), what="the crop dialog")
        assert "buckets are on" in flat(app).lower()
        assert str(app.screen.query_one("#crop-aspect").value) == "3:2"  # a wide image starts on landscape
        await pilot.press("enter", "up", "up", "enter")  # 1:1 square
        await pilot.press("tab", "tab", "ctrl+u", "1", "0", "enter")
        await wait_for(pilot, lambda: "10 is not a size from 64 to 4096 pixels" in flat(app), what="the size check")
        await pilot.press("ctrl+u", "9", "6")
        await keys(pilot, review, "enter")
        with Image.open(wide) as im:
            assert im.size == (96, 96)
        assert "Cropped 1 file to 1:1 at 96×96 (focus); the originals are in the trash, u undoes it." in status(review)
        assert [e.reason for e in list_trash(project)] == ["crop focus"]
        assert review.grid.items == []  # no longer a problem
        await keys(pilot, review, "u")
        assert files(project) == before and not list_trash(project)
