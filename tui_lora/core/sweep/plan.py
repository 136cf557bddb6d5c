"""The planner's view of a sweep before it starts: each variant's steps and time, and the total
(``tui-lora steps DIR --vary …``, the wizard's sweep form). Pure Python: no torch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tui_lora.core.sweep.spec import Variant, Vary, plan_variants

if TYPE_CHECKING:
    from tui_lora.core.plan import Plan
    from tui_lora.core.project import Project


@dataclass
class SweepPlan:
    variants: list[tuple[Variant, Plan]]

    @property
    def total_steps(self) -> int:
        return sum(p.total_steps for _v, p in self.variants)

    @property
    def seconds(self) -> float | None:
        """The whole sweep at the last run's speed (None when no speed is known yet)."""
        times = [p.seconds for _v, p in self.variants]
        return None if any(t is None for t in times) else float(sum(times))  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, Any]:
        return {"variants": [{**v.to_dict(), "total_steps": p.total_steps, "epochs": p.epochs,
                              "seconds": p.seconds, "vram_gb": p.vram.total_gb if p.vram else None}
                             for v, p in self.variants],
                "count": len(self.variants), "total_steps": self.total_steps, "seconds": self.seconds}


def plan_sweep(project: Project, varies: list[Vary], *, it_per_s: float | None = None,
               confirmed: bool = True, base_overrides: list[str] | None = None) -> SweepPlan:
    """Every variant's plan (the same checks as the sweep itself; each variant trains on one GPU,
    :func:`wall_seconds` says how long N at a time take)."""
    from tui_lora.core.plan import plan_for_project

    if it_per_s is None:
        it_per_s = last_speed(project)
    out = []
    for v in plan_variants(project, varies, confirmed=confirmed):
        settings = project.effective_settings([*(base_overrides or []), *v.overrides])
        out.append((v, plan_for_project(project, settings=settings, it_per_s=it_per_s)))
    return SweepPlan(out)


def wall_seconds(plan: SweepPlan, gpus: int) -> float | None:
    """The sweep's duration with ``gpus`` variants at a time (each variant's time, packed greedily)."""
    if plan.seconds is None:
        return None
    lanes = [0.0] * max(1, gpus)
    for _v, p in plan.variants:
        i = lanes.index(min(lanes))
        lanes[i] += p.seconds or 0.0
    return max(lanes)


def last_speed(project: Project) -> float | None:
    """The speed of the project's last run, or of its sweep's last variant (None when nothing ran)."""
    from tui_lora.core.events import read_events
    from tui_lora.core.sweep.manifest import read_manifest
    from tui_lora.core.sweep.variant import VariantProject

    paths = [project.events_path]
    manifest = read_manifest(project)
    if manifest is not None:
        paths += [VariantProject.of(project, v.label).events_path for v in manifest.variants]
    latest: tuple[float, float] | None = None
    for path in paths:
        for e in read_events(path):
            if e.get("event") == "step" and isinstance(e.get("it_per_s"), (int, float)):
                if latest is None or e.get("time", 0) >= latest[0]:
                    latest = (float(e.get("time", 0)), float(e["it_per_s"]))
    return latest[1] if latest else None
