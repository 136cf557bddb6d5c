"""Dataset folders, image checks, dedupe, thumbnails and caption operations."""
