"""Pattern dialog: remove every tag matching a glob, e.g. "* (azur lane)" or "*_background"."""

from __future__ import annotations

from tui_lora.core.dataset import tagops
from tui_lora.tui.tags.tag_removal import RemovalDialog


class PatternDialog(RemovalDialog):
    TITLE_TEXT = "Remove tags by pattern"
    INTRO = ("* matches anything, ? one character: \"* (azur lane)\" drops series names, \"*background\" "
             "every background tag. Several patterns: separate them with commas. The trigger word is kept.")
    LABEL = "Pattern"

    def dry_run(self, items: list[str]):
        return tagops.remove_pattern(self.project, items, dry_run=True)
