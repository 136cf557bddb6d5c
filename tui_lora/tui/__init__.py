"""The wizard: a full-screen Textual app over ``tui_lora.core``. Views only; logic lives in core."""
