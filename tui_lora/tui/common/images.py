"""How the wizard draws pictures: kitty or sixel graphics where the terminal supports them,
coloured half-blocks elsewhere (tmux, most SSH terminals), plain text where there is no terminal.

The terminal has to be asked before Textual starts: once it runs, Textual reads stdin and would
swallow the answers. :func:`start_detection` asks in a thread while the wizard's modules are
still importing (so the 0.1 s query timeouts cost no startup time) and :func:`finish_detection`
joins it just before the app runs. Nothing else asks: Pilot tests, snapshots and any app not
started through ``tui-lora`` get "text", a fixed placeholder that never depends on pixels or on
when a thumbnail finished loading. ``TUI_LORA_IMAGES=kitty|sixel|halfcell|text`` overrides it.

No textual here (textual_image's renderables need only rich and Pillow).
"""

from __future__ import annotations

import math
import os
import sys
import threading

MODES = ("kitty", "sixel", "halfcell", "text")
ENV = "TUI_LORA_IMAGES"

_mode: str | None = None
_thread: threading.Thread | None = None


def mode() -> str:
    """The drawing mode this process settled on ("text" unless detected or set)."""
    return _mode or "text"


def set_mode(value: str) -> None:
    """Force a mode (tests and benchmarks); "kitty"/"sixel"/"halfcell" need a terminal to look right."""
    global _mode
    if value not in MODES:
        raise ValueError(f"unknown image mode {value!r}; one of {', '.join(MODES)}")
    _mode = value


def _is_terminal() -> bool:
    return bool(sys.__stdout__ and sys.__stdout__.isatty() and sys.__stdin__ and sys.__stdin__.isatty())


def _detect() -> str:
    forced = os.environ.get(ENV, "").strip().lower()
    if forced == "text" or not _is_terminal():
        return "text"
    try:
        # Importing the renderables asks the terminal (sixel first, then kitty's protocol), and
        # get_cell_size() caches the cell's pixel size for the image widgets used later.
        import textual_image.renderable as renderable
        from textual_image._terminal import get_cell_size

        get_cell_size()
    except Exception:  # noqa: BLE001 - an odd terminal gets half-blocks, never a crash
        return "halfcell"
    if forced in MODES:
        return forced
    if renderable.Image is renderable.TGPImage:
        return "kitty"
    if renderable.Image is renderable.SixelImage:
        return "sixel"
    return "halfcell"


def _run() -> None:
    global _mode
    _mode = _detect()


def start_detection() -> None:
    """Ask the terminal in the background (call before importing the app)."""
    global _thread
    if _thread is None and _mode is None:
        _thread = threading.Thread(target=_run, name="tui-lora-image-probe", daemon=True)
        _thread.start()


def finish_detection(timeout: float = 1.0) -> str:
    """Wait for :func:`start_detection` (call before the app runs); returns the mode."""
    global _mode
    if _thread is not None:
        _thread.join(timeout)
        if _thread.is_alive():  # a terminal that never answers: no graphics, and move on
            _mode = "halfcell"
    return mode()


def cell_pixels() -> tuple[int, int]:
    """(width, height) of a terminal cell in pixels, as the graphics protocols see it."""
    if mode() in ("kitty", "sixel"):
        from textual_image._terminal import get_cell_size

        size = get_cell_size()
        return size.width, size.height
    return 1, 2  # a half-block cell holds two pixels, one above the other


def widget_class():
    """The textual_image widget class for the current mode (None in text mode)."""
    m = mode()
    if m == "text":
        return None
    from textual_image import widget

    return {"kitty": widget.TGPImage, "sixel": widget.SixelImage}.get(m, widget.HalfcellImage)


def show_picture(widget, picture) -> None:
    """Show a PIL ``picture`` in a :func:`widget_class` widget sized to it in terminal cells (the
    picture was scaled to fit the space it is for, so it is drawn at its own size)."""
    px_w, px_h = cell_pixels()
    widget.styles.width = max(1, math.ceil(picture.width / px_w))
    widget.styles.height = max(1, math.ceil(picture.height / px_h))
    widget.image = picture
    widget.display = True
