"""Helpers only the tests and the benchmarks use (the product never imports them): trainer projects,
saved LoRA files, single-file checkpoints and a tiny BLIP captioner."""
