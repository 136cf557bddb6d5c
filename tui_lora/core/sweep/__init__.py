"""Train variants of a project's settings (learning rate, dim, alpha …) and compare them (issue 17).

- :mod:`.spec`: ``--vary section.key=v1,v2`` → :class:`Vary`, every combination a :class:`Variant`
  with its overrides and label (``lr5e-4_dim16``); checked like ``--set`` before anything starts.
- :mod:`.variant`: :class:`VariantProject`, a variant seen as a project (its files in
  ``output/sweep/<label>/``, its events and log in ``logs/sweep/<label>/``, its state in ``state/sweep/<label>/``).
- :mod:`.manifest` (``state/sweep/sweep.json``), :mod:`.status` (every variant's state), :mod:`.plan` (steps
  and time of the whole sweep), :mod:`.prepare`, :mod:`.runner` and :mod:`.job` (run it like ``train``).
"""

from tui_lora.core.sweep.manifest import SweepManifest, read_manifest
from tui_lora.core.sweep.spec import Variant, Vary, parse_varies, plan_variants
from tui_lora.core.sweep.status import SweepStatus, VariantStatus, is_sweep_lock, sweep_status
from tui_lora.core.sweep.variant import VariantProject

__all__ = ["SweepManifest", "SweepStatus", "Variant", "VariantProject", "VariantStatus", "Vary", "is_sweep_lock",
           "parse_varies", "plan_variants", "read_manifest", "sweep_status"]
