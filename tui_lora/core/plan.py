"""The step calculator, its warnings, and a VRAM estimate. Pure Python: no torch.

Steps follow kohya: every ``<N>_<name>`` folder contributes images × N samples per epoch;
a step takes one batch from one bucket, so

    steps per epoch = Σ over buckets ⌈samples in bucket ÷ global batch⌉

and before buckets are known each folder counts as its own bucket
(Σ over folders ⌈images × repeats ÷ batch⌉). ``max_train_epochs`` wins over ``max_train_steps``
as in kohya; with epochs 0 the run stops after ``max_train_steps``.

The planner's inputs and answer are in :mod:`.plan_data`, its warnings in :mod:`.plan_checks`;
this module does the arithmetic and builds plans from settings or a project on disk.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from tui_lora.core.model_checks import model_info
from tui_lora.core.plan_checks import plan_issues
from tui_lora.core.plan_data import FolderCount, Plan, PlanInput
from tui_lora.core.settings import Settings
from tui_lora.core.vram import VramEstimate, estimate_vram

__all__ = ["FolderCount", "Plan", "PlanInput", "VramEstimate", "estimate_vram", "make_plan", "model_info",
           "plan_for_project", "plan_from_settings", "steps_per_epoch", "vram_for"]

if TYPE_CHECKING:
    from tui_lora.core.models import ModelInfo
    from tui_lora.core.project import Project


def steps_per_epoch(inp: PlanInput) -> int:
    gb = inp.batch_size * max(1, inp.gpus)
    if inp.bucket_samples is not None:
        # Exact: the trainer's batches, regularization samples included.
        return sum(math.ceil(n / gb) for n in inp.bucket_samples if n > 0)
    per_epoch = sum(math.ceil(f.images * f.repeats / gb) for f in inp.folders if f.images > 0)
    if inp.reg_images > 0:
        per_epoch *= 2  # kohya pairs every training sample with a regularization sample
    return per_epoch


def epochs_and_steps(spe: int, epochs: int, max_train_steps: int) -> tuple[int, int]:
    """(epochs, total steps) for ``spe`` steps per epoch: max_train_epochs wins over max_train_steps, as in
    kohya. The trainer calls this too, so the plan and the run agree."""
    if epochs > 0:
        return epochs, spe * epochs
    return (math.ceil(max_train_steps / spe) if spe else 0), max_train_steps


def make_plan(inp: PlanInput) -> Plan:
    gb = inp.batch_size * max(1, inp.gpus)
    images = sum(f.images for f in inp.folders)
    samples = sum(f.images * f.repeats for f in inp.folders)
    spe = steps_per_epoch(inp)
    epochs, total = epochs_and_steps(spe, inp.epochs, inp.max_train_steps)
    views = max((f.repeats for f in inp.folders if f.images), default=0) * epochs
    saved = _saved_files(epochs, inp.save_every_n_epochs)
    plan = Plan(
        input=inp,
        images=images,
        samples_per_epoch=samples,
        global_batch=gb,
        steps_per_epoch=spe,
        epochs=epochs,
        total_steps=total,
        saved_files=saved,
        views_per_image=views,
        breakdown=_breakdown(inp, spe, epochs, total),
    )
    plan.issues = plan_issues(plan)
    if inp.it_per_s and inp.it_per_s > 0:
        plan.seconds = total / inp.it_per_s
    plan.vram = vram_for(inp)
    return plan


def _saved_files(epochs: int, every: int) -> int:
    if epochs <= 0:
        return 0
    intermediate = (epochs - 1) // every if every > 0 else 0
    return intermediate + 1  # plus the final file


def _batch_text(inp: PlanInput) -> str:
    if inp.gpus > 1:
        return f"batch {inp.batch_size} × {inp.gpus} GPUs"
    return f"batch {inp.batch_size}"


def _breakdown(inp: PlanInput, spe: int, epochs: int, total: int) -> list[str]:
    """Human lines that show the arithmetic, e.g. ``20 images × 5 repeats × 10 epochs ÷ batch 4 = 250 steps``."""
    folders = [f for f in inp.folders if f.images > 0]
    bt = _batch_text(inp)
    lines: list[str] = []
    one_bucket = inp.bucket_samples is None or len([n for n in inp.bucket_samples if n]) <= 1
    if inp.epochs > 0 and len(folders) == 1 and one_bucket and not inp.reg_images:
        f = folders[0]
        line = f"{f.images} images × {f.repeats} repeats × {epochs} epochs ÷ {bt} = {total} steps"
        if (f.images * f.repeats) % (inp.batch_size * max(1, inp.gpus)):
            line += f" (each epoch rounds up to {spe} steps)"
        return [line]
    for f in folders:
        per = math.ceil(f.images * f.repeats / (inp.batch_size * max(1, inp.gpus)))
        lines.append(f"{f.name}: {f.images} images × {f.repeats} repeats ÷ {bt} = {per} steps per epoch")
    if inp.bucket_samples is not None:
        n_buckets = len([n for n in inp.bucket_samples if n])
        reg = f" with {inp.reg_images} regularization samples" if inp.reg_images else ""
        lines.append(f"grouped{reg} into {n_buckets} aspect-ratio bucket{'s' if n_buckets != 1 else ''}, "
                     f"each batch from one bucket: {spe} steps per epoch")
    elif inp.reg_images:
        lines.append(f"regularization images double it: {spe} steps per epoch")
    if inp.epochs > 0:
        lines.append(f"{spe} steps per epoch × {epochs} epochs = {total} steps")
    else:
        lines.append(f"max_train_steps = {total} steps ≈ {epochs} epochs of {spe} steps")
    return lines



def vram_for(inp: PlanInput) -> VramEstimate:
    """:func:`estimate_vram` for a plan's input (and so for a project's settings)."""
    return estimate_vram(
        family=inp.family, resolution=inp.resolution, batch_size=inp.batch_size, network_dim=inp.network_dim,
        conv_dim=inp.conv_dim, network_type=inp.network_type, dora=inp.dora, mixed_precision=inp.mixed_precision,
        gradient_checkpointing=inp.gradient_checkpointing, optimizer=inp.optimizer,
        train_text_encoder=inp.trains_text_encoder, cache_latents=inp.cache_latents, fp8_base=inp.fp8_base,
        text_encoders_cached=inp.text_encoders_cached)


def plan_from_settings(settings: Settings, folders: list[FolderCount], *, gpus: int = 1,
                       reg_images: int = 0, bucket_samples: tuple[int, ...] | None = None,
                       it_per_s: float | None = None, model: ModelInfo | None = None) -> Plan:
    """A plan from a project's settings and its folder counts (and what the base model says, when read)."""
    return make_plan(PlanInput.from_settings(settings, folders, gpus=gpus, reg_images=reg_images,
                                             bucket_samples=bucket_samples, it_per_s=it_per_s, model=model))


def plan_for_project(project: Project, *, settings: Settings | None = None, gpus: int = 1,
                     it_per_s: float | None = None) -> Plan:
    """The plan for a :class:`~tui_lora.core.project.Project` as it is on disk now.

    Image sizes are read from the image headers and grouped into the trainer's aspect-ratio
    buckets (one bucket when bucketing is off), with regularization samples balanced as kohya
    does, so the steps per epoch are exactly the trainer's.
    ``it_per_s`` defaults to the speed of the project's last training run, when there was one.
    """
    from tui_lora.core.events import read_events
    from tui_lora.core.train.layout import resolve_reg_dir, scan_layout

    s = settings or project.settings
    folders = [FolderCount(c.folder, len(c.images()), c.repeats) for c in project.concepts()]
    reg_root = resolve_reg_dir(project.root, s.dataset.reg_data_dir)
    layout = scan_layout(project.dataset_dir, s.dataset, reg_dir=reg_root)
    if it_per_s is None:
        speeds = [e["it_per_s"] for e in read_events(project.events_path)
                  if e.get("event") == "step" and isinstance(e.get("it_per_s"), (int, float))]
        it_per_s = speeds[-1] if speeds else None
    return plan_from_settings(s, folders, gpus=gpus, reg_images=layout.reg_samples,
                              bucket_samples=layout.bucket_samples(), it_per_s=it_per_s,
                              model=model_info(s.model.pretrained_model_name_or_path))
