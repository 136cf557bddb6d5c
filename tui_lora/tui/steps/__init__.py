"""Step 5, Steps: repeats, epochs, batch and learning rates, with the step arithmetic and VRAM."""
