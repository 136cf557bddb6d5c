"""Step 3, Review: the image grid, problems, near-duplicates, the trash; fix, crop, trash, restore."""
