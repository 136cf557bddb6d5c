"""What every step shares: the screen base (step bar, footer, `?` help), dialogs, the form field, progress
bars, pictures in the terminal, thumbnails, child `tui-lora` processes and text formatters."""
