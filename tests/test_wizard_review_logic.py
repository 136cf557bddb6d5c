"""The Review screen's plain modules: the views built from a scan (review_model), the thumbnail
loader (only what is asked for, newest wishes first, per channel), and the image-mode choice."""

import threading

import pytest

from tui_lora.core.dataset.checks import Problem
from tui_lora.demo.datasets import write_dataset, write_problem_images
from tui_lora.tui.common import images
from tui_lora.tui.common.thumb_loader import FAILED, ThumbLoader, ThumbRequest
from tui_lora.tui.review import review_model as M


@pytest.fixture
def project(make_project):
    p = make_project(images=0, settings={"dataset.resolution": 64, "dataset.min_bucket_reso": 64})
    folder = p.concepts()[0].path
    imgs = write_dataset(folder, 5, size=(96, 96), trigger="ohwx")
    write_problem_images(folder, near_copy_of=imgs[1], trigger="ohwx")
    return p


def test_views_filters_and_duplicate_rows(project):
    data = M.load(project)
    names = lambda view: [it.name for it in data.items(view)]  # noqa: E731 - local helper
    assert len(names("all")) == 9
    assert names("problems") == ["tiny.png", "transparent.png", "truncated.png"]
    assert names("problem:corrupt") == ["truncated.png"]
    assert names("dupes") == ["img_0001.png", "img_0001_copy.jpg"]
    rows = data.rows("all", 4)
    assert [len(r) for r in rows] == [4, 4, 1]
    assert data.rows("dupes", 1) == [[data.items("dupes")[0]], [data.items("dupes")[1]]]
    keeper, copy = data.items("dupes")
    assert keeper.keeper and not copy.keeper and keeper.group == copy.group == 0
    filters = {view: (label, n) for view, label, n in data.filters()}
    assert filters["problem:transparency"] == ("Transparent pixels", 1)
    assert filters["dupes"][1] == 1 and filters["trash"][1] == 0
    assert M.advice(Problem.TRANSPARENCY).startswith("x composites it onto white")
    assert M.advice(Problem.MISSING_CAPTION) == "tag it on the Tags step (4)"
    assert M.view_label("problem:too_small") == "Smaller than the training resolution"


def test_keep_all_is_remembered_by_content(project):
    data = M.load(project)
    group = data.groups()[0]
    data.not_duplicates = M.keep_all(project, group)
    assert data.groups() == []
    again = M.load(project)  # a new reading, the answer read back from .cache/review.json
    assert again.groups() == []
    (project.cache_dir / "review.json").write_text("{not json")
    assert M.load(project).groups() != []  # a damaged file only brings the question back


def test_duplicate_groups_are_reused_while_the_images_are_the_same(project):
    first = M.load(project)
    previous = (M.signature(first), first.dedupe)
    second = M.load(project, with_duplicates=False)
    assert second.dedupe is None
    M.find_duplicates(second, previous=previous)
    assert second.dedupe is not first.dedupe  # rebased onto the new scan's records...
    assert second.dedupe.groups[0].keeper.record in second.scan.images  # ...not the old ones
    (project.concepts()[0].path / "img_0003.png").unlink()
    third = M.load(project, with_duplicates=False)
    assert M.signature(third) != previous[0]


def test_loader_reads_only_what_is_asked_and_newest_wishes_win(project):
    data = M.load(project)
    items = {it.name: it for it in data.items("all")}
    loader = ThumbLoader(project)
    req = lambda name, box=(16, 16): ThumbRequest(items[name].thumb_key, items[name].path,  # noqa: E731 - helper
                                                  items[name].sha256, box)
    assert loader.want([req("img_0000.png"), req("img_0001.png")]) is True  # start a worker
    assert loader.want([req("img_0002.png")]) is False  # one is already due: this replaces the wish
    loader.want([req("truncated.png")], "preview")
    ready = []
    loader.run(lambda: ready.append(1))
    got = loader.take_ready()
    assert got == {items["img_0002.png"].thumb_key, items["truncated.png"].thumb_key}
    assert loader.get(items["truncated.png"].thumb_key, (16, 16)) is FAILED
    pic = loader.get(items["img_0002.png"].thumb_key, (16, 16))
    assert pic.size == (16, 16) and loader.get(items["img_0000.png"].thumb_key, (16, 16)) is None
    assert loader.loaded == 2 and loader.generated == 1  # the scan made no thumbnails: one was made
    assert loader.want([req("img_0002.png")]) is False  # cached: nothing to do
    assert loader.pending == 0


def test_loader_keeps_a_bounded_cache_and_stops_when_cancelled(project):
    data = M.load(project)
    loader = ThumbLoader(project, capacity=2)
    reqs = [ThumbRequest(it.thumb_key, it.path, it.sha256, (8, 8)) for it in data.items("all") if it.readable]
    loader.want(reqs)
    stop = threading.Event()
    stop.set()
    loader.run(lambda: None, stop.is_set)
    assert loader.loaded == 0 and loader.pending == len(reqs)
    loader.want(reqs)
    loader.run(lambda: None)
    assert sum(loader.get(r.key, (8, 8)) is not None for r in reqs) == 2


def test_image_mode_is_text_without_a_terminal(monkeypatch):
    monkeypatch.setattr(images, "_mode", None)
    assert images.mode() == "text" and images.widget_class() is None
    assert images._detect() == "text"  # pytest's stdout is not a terminal
    with pytest.raises(ValueError):
        images.set_mode("ascii-art")
    images.set_mode("halfcell")
    assert images.cell_pixels() == (1, 2) and images.widget_class().__name__ == "HalfcellImage"
