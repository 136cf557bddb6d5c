"""Junk dialog: the project's editable junk list (tags.junk_tags) and what removing it would do."""

from __future__ import annotations

from tui_lora.core.dataset import tagops
from tui_lora.tui.tags.tag_removal import RemovalDialog


class JunkDialog(RemovalDialog):
    TITLE_TEXT = "Remove junk tags"
    KEYS_TEXT = "^s remove (an edited list is saved to project.toml) · esc cancel"
    INTRO = ("Tags about the file or the website teach nothing the LoRA can draw. Edit the list (commas "
             "between tags, * and ? as wildcards); it is the project's tags.junk_tags.")
    LABEL = "Junk list"
    MULTILINE = True

    def dry_run(self, items: list[str]):
        return tagops.remove_junk(self.project, junk=items, dry_run=True)
