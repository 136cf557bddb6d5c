"""The labelled grid image: a title, column labels (weights), row labels (epochs), full-size cells.

Cells are pasted at full resolution, so the wizard can crop one exactly by its box to zoom in.
Boxes are ``[x0, y0, x1, y1]`` with exclusive ends (PIL's crop convention)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image, ImageFont

BACKGROUND = (255, 255, 255)
INK = (20, 20, 20)
MUTED = (90, 90, 90)


@dataclass(frozen=True)
class GridLayout:
    rows: int
    cols: int
    cell_w: int
    cell_h: int
    label_w: int
    header_h: int
    title_h: int
    gap: int
    pad: int
    font_size: int

    @property
    def size(self) -> tuple[int, int]:
        return (self.label_w + self.cols * (self.cell_w + self.gap) + self.pad,
                self.title_h + self.header_h + self.rows * (self.cell_h + self.gap) + self.pad)

    def box(self, row: int, col: int) -> tuple[int, int, int, int]:
        x0 = self.label_w + col * (self.cell_w + self.gap)
        y0 = self.title_h + self.header_h + row * (self.cell_h + self.gap)
        return (x0, y0, x0 + self.cell_w, y0 + self.cell_h)

    def column_label_box(self, col: int) -> tuple[int, int, int, int]:
        x0, _, x1, _ = self.box(0, col)
        return (x0, self.title_h, x1, self.title_h + self.header_h)

    def row_label_box(self, row: int) -> tuple[int, int, int, int]:
        _, y0, _, y1 = self.box(row, 0)
        return (0, y0, self.label_w - self.gap, y1)

    def title_box(self) -> tuple[int, int, int, int]:
        return (0, 0, self.size[0], self.title_h)


def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


def layout_grid(rows: int, cols: int, cell_w: int, cell_h: int, row_labels: list[str], *,
                min_gap: int = 2) -> GridLayout:
    size = max(11, round(min(cell_w, cell_h) / 20))
    pad = max(4, size // 2)
    gap = max(min_gap, size // 4)
    f = font(size)
    widest = max((f.getbbox(t)[2] for t in row_labels), default=0)
    line = size + size // 3
    return GridLayout(rows=rows, cols=cols, cell_w=cell_w, cell_h=cell_h, label_w=widest + 2 * pad + gap,
                      header_h=line + 2 * pad, title_h=2 * line + 2 * pad, gap=gap, pad=pad, font_size=size)


def _fit(text: str, f, width: int) -> str:
    """``text`` cut with an ellipsis to ``width`` pixels."""
    if f.getbbox(text)[2] <= width:
        return text
    while text and f.getbbox(text + "…")[2] > width:
        text = text[:-1]
    return text + "…"


def draw_grid(cells: dict[tuple[int, int], Image.Image], layout: GridLayout, *, row_labels: list[str],
              col_labels: list[str], title: list[str]) -> Image.Image:
    """The grid as a PIL image; ``cells`` maps (row, col) to PIL images of the cell size."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", layout.size, BACKGROUND)
    draw = ImageDraw.Draw(img)
    f = font(layout.font_size)
    line = layout.font_size + layout.font_size // 3
    width = layout.size[0] - 2 * layout.pad
    for i, text in enumerate(title[:2]):
        draw.text((layout.pad, layout.pad + i * line), _fit(text, f, width), fill=INK if i == 0 else MUTED, font=f)
    for col, text in enumerate(col_labels):
        x0, y0, x1, y1 = layout.column_label_box(col)
        t = _fit(text, f, x1 - x0)
        w = f.getbbox(t)[2]
        draw.text((x0 + (x1 - x0 - w) // 2, y0 + layout.pad), t, fill=INK, font=f)
    for row, text in enumerate(row_labels):
        x0, y0, x1, y1 = layout.row_label_box(row)
        draw.text((layout.pad, y0 + (y1 - y0 - layout.font_size) // 2), text, fill=INK, font=f)
    for (row, col), cell in cells.items():
        x0, y0, x1, y1 = layout.box(row, col)
        if cell.size != (x1 - x0, y1 - y0):
            cell = cell.resize((x1 - x0, y1 - y0))
        img.paste(cell.convert("RGB"), (x0, y0))
    return img
