"""Step 1, Project: what the open project holds and what to do next."""
