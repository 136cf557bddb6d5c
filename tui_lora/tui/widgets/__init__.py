"""Widgets of the wizard, one per file, each with its own DEFAULT_CSS."""
