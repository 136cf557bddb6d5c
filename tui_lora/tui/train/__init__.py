"""Step 6, Train: start, stop and resume the detached training job, and follow it from its files."""
