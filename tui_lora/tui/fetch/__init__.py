"""Step 2, Fetch: search a booru, preview the posts, download them into a concept folder."""
