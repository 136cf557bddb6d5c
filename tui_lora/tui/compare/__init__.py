"""Step 7, Compare: render each saved epoch at several weights in a grid, zoom in, pick the best."""
