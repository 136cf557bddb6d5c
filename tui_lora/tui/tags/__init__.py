"""Step 4, Tags: run the tagger, then prune, merge and edit tags over the whole dataset, undoably."""
