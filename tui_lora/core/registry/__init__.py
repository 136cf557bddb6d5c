"""Registries: one entry per optimizer, lr scheduler, network type, sampler and booru site, each
holding everything about it (settings it uses, planner facts, help, how to build it).

Each registry is its own light module (no torch, no requests at import): the settings schema takes
its choices from them, the CLI its argparse choices and help, the planner its facts, the trainer
its builders and the wizard its form fields. Adding an entry is one record in the module plus the
code it names. This package imports nothing, so importing one registry never loads the others.
"""
