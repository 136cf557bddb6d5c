"""Download defaults, in a module light enough for the CLI's argument parser to import."""

DEFAULT_JOBS = 6
MAX_JOBS = 16
# A ceiling on new file requests per second across all workers. Real images take far longer
# than 1/100 s each, so it only binds on tiny files; the connection count (jobs) and the shared
# pause after a 429 are what keep a run polite.
DEFAULT_FILE_RATE = 100.0
DEFAULT_MAX_BYTES = 50 * 1024 * 1024
HUGE_PIXELS = 3072 * 3072  # originals above this many pixels may be swapped for the site's sample
