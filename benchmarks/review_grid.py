"""Benchmark: the Review grid with 1,000 images — ours (virtual: only the visible cells exist and
load thumbnails) against the obvious grid (one image widget per file in a scrolling container).

    python benchmarks/review_grid.py [--images 1000] [--size 80x24] [--mode halfcell|text]

Both run headless (Textual's ``run_test``) on the same project, with every thumbnail already in
.cache/thumbs (the scan made them) so neither pays for decoding originals. Measured:

* open: from the key that shows the grid to the first grid on screen (ours shows the scan while
  it groups duplicates), and to a settled screen with every visible picture drawn;
* page down / cursor down: mean time per key, each waiting until the new pictures are drawn;
* widgets and thumbnails read while doing all of that.

``--mode halfcell`` draws real half-block pictures (textual-image), as in tmux; ``text`` the
placeholders the tests use.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def make_project(folder: Path, n: int):
    from tui_lora.core.dataset.scan import scan
    from tui_lora.core.project import Project
    from tui_lora.demo.datasets import write_dataset

    project = Project.create(folder / "bench", preset="sd15-anime-character", base_model="x/y", trigger="ohwx")
    project.set("dataset.resolution", 64)
    project.save()
    write_dataset(project.concepts()[0].path, n, size=[(96, 96), (96, 128), (128, 96)], trigger="ohwx")
    scan(project, thumbnails=True)
    return project


async def settle(pilot) -> None:
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def ours(project, size, pages: int, downs: int) -> dict:
    from tui_lora.core.project import Project
    from tui_lora.tui.app import WizardApp
    from tui_lora.tui.review.thumb_cell import ThumbCell

    from tui_lora.tui.review.thumb_grid import ThumbGrid

    first: list[float] = []
    set_content = ThumbGrid.set_content

    def timed(grid, *args, **kwargs):  # when the scan reaches the screen (pilot.press returns later)
        set_content(grid, *args, **kwargs)
        if grid.rows and not first:
            first.append(time.perf_counter())

    ThumbGrid.set_content = timed
    app = WizardApp(Project.load(project.root), frozen=True)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        start = time.perf_counter()
        await pilot.press("3")
        review = app.screen
        while not first:
            await pilot.pause(0.005)
        shown = first[0] - start  # the scan is on screen; duplicates are still being grouped
        while review.data is None or review.data.dedupe is None or review.busy:
            await pilot.pause(0.005)
        await settle(pilot)
        opened = time.perf_counter() - start
        idle = await _keys(pilot, "z", downs)  # a key nobody binds: what the harness itself costs
        page = await _keys(pilot, "pagedown", pages)
        down = await _keys(pilot, "down", downs)
        return {"open": opened, "shown": shown, "page": page, "down": down, "idle": idle,
                "widgets": len(list(app.screen.walk_children())), "cells": len(review.query(ThumbCell)),
                "read": review.loader.loaded}


async def _keys(pilot, key: str, n: int) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        await pilot.press(key)
        await settle(pilot)
        times.append(time.perf_counter() - t)
    return statistics.mean(times)


async def naive(project, size, pages: int, downs: int) -> dict:
    """One image widget per file in a scrolling grid, each loading its thumbnail when mounted."""
    from PIL import Image
    from textual.app import App
    from textual.containers import Grid, Vertical, VerticalScroll
    from textual.widgets import Static

    from tui_lora.core.dataset import thumbs
    from tui_lora.core.dataset.scan import scan
    from tui_lora.tui.common import images

    records = scan(project).images
    widget_class = images.widget_class()

    class Cell(Vertical):
        DEFAULT_CSS = "Cell { height: 8; } Cell > .pic { height: 6; width: 15; }"

        def __init__(self, record) -> None:
            super().__init__()
            self.record = record

        def compose(self):
            path = thumbs.thumbnail_path(project, self.record)
            if widget_class is None:
                yield Static(f"{self.record.width}×{self.record.height}", classes="pic")
            else:
                with Image.open(path) as im:
                    pic = im.convert("RGB")
                    pic.thumbnail((15, 12))
                yield widget_class(pic, classes="pic")
            yield Static(self.record.path.name)

    class Naive(App):
        CSS = "Grid { grid-size: 3; height: auto; grid-rows: 8; }"
        BINDINGS = [("pagedown", "page", ""), ("down", "down", "")]

        def compose(self):
            with VerticalScroll(id="scroll"):
                with Grid():
                    for r in records:
                        yield Cell(r)

        def action_page(self) -> None:
            self.query_one("#scroll").scroll_page_down(animate=False)

        def action_down(self) -> None:
            self.query_one("#scroll").scroll_relative(y=8, animate=False)

    start = time.perf_counter()
    app = Naive()
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        opened = time.perf_counter() - start
        idle = await _keys(pilot, "z", downs)
        page = await _keys(pilot, "pagedown", pages)
        down = await _keys(pilot, "down", downs)
        return {"open": opened, "shown": opened, "page": page, "down": down, "idle": idle,
                "widgets": len(list(app.screen.walk_children())), "cells": len(records), "read": len(records)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--size", default="80x24")
    ap.add_argument("--mode", default="halfcell", choices=("halfcell", "text"))
    ap.add_argument("--pages", type=int, default=20)
    ap.add_argument("--downs", type=int, default=30)
    args = ap.parse_args()
    size = tuple(int(x) for x in args.size.split("x"))
    os.environ.setdefault("TUI_LORA_CONFIG_DIR", tempfile.mkdtemp(prefix="tui-lora-bench-cfg-"))
    from tui_lora.tui.common import images

    images.set_mode(args.mode)
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        project = make_project(Path(tmp), args.images)
        print(f"{args.images} images written and scanned (thumbnails made) in {time.perf_counter() - t:.1f} s")
        a = asyncio.run(ours(project, size, args.pages, args.downs))
        b = asyncio.run(naive(project, size, args.pages, args.downs))
    print(f"\nReview grid, {args.images} images, {size[0]}×{size[1]}, {args.mode} pictures; "
          f"{platform.machine()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, Python {platform.python_version()}")
    print("| measure | ours (virtual grid) | one widget per image | naive ÷ ours |")
    print("|---|---:|---:|---:|")
    for key, label, unit in (("shown", "open: first grid on screen", "s"), ("open", "open: all settled", "s"), ("page", "page down (mean)", "ms"),
                             ("down", "cursor/scroll down (mean)", "ms"), ("idle", "an unbound key (harness)", "ms")):
        scale = 1000 if unit == "ms" else 1
        print(f"| {label} | {a[key] * scale:.{0 if unit == 'ms' else 2}f} {unit} | "
              f"{b[key] * scale:.{0 if unit == 'ms' else 2}f} {unit} | {b[key] / a[key]:.1f}× |")
    print(f"| picture cells mounted | {a['cells']} | {b['cells']} | {b['cells'] / a['cells']:.0f}× |")
    print(f"| widgets on the screen | {a['widgets']} | {b['widgets']} | {b['widgets'] / a['widgets']:.0f}× |")
    print(f"| thumbnails read | {a['read']} | {b['read']} | {b['read'] / max(1, a['read']):.0f}× |")


if __name__ == "__main__":
    main()
