"""A sweep's variants as comparison rows (variants × chosen epochs), and the winning variant kept:
``--pick lr5e-4_dim16:final`` reads ``VARIANT:EPOCH``, ``--adopt`` writes the variant's values into
project.toml. No torch."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from tui_lora.core.compare.files import EpochFile, list_epoch_files
from tui_lora.core.errors import Fix, RunAction, UserError

if TYPE_CHECKING:
    from tui_lora.core.project import Project
    from tui_lora.core.sweep import SweepManifest, Variant


def _manifest(project: Project) -> SweepManifest:
    from tui_lora.core.sweep import read_manifest

    manifest = read_manifest(project)
    if manifest is None:
        raise UserError("This project has no sweep to compare",
                        Fix("train variants of the settings first with {}",
                            RunAction("sweep.start", str(project.root))))
    return manifest


def variant_files(project: Project, variant: Variant) -> list[EpochFile]:
    """The variant's saved files by epoch, as rows (labelled with its varied values)."""
    from tui_lora.core.sweep import VariantProject

    view = VariantProject.of(project, variant.label)
    return [replace(f, variant=variant.label, describe=variant.describe()) for f in list_epoch_files(view)]


def select_variant_rows(project: Project, epochs: list[int | str] | None, *,
                        variants: list[str] | None = None) -> tuple[list[EpochFile], list[str]]:
    """Rows for every variant (or those named) × ``epochs`` (default: the final file); returns the
    rows and the labels of the variants left out because they have no such file yet."""
    manifest = _manifest(project)
    wanted = epochs or ["final"]
    chosen = manifest.variants
    if variants:
        unknown = [label for label in variants if manifest.variant(label) is None]
        if unknown:
            raise UserError(f"The sweep has no variant {unknown[0]}; its variants are "
                            f"{', '.join(v.label for v in manifest.variants)}.")
        chosen = [manifest.variant(label) for label in variants]  # type: ignore[misc]
    rows: list[EpochFile] = []
    missing: list[str] = []
    for variant in chosen:
        files = variant_files(project, variant)
        by_epoch = {f.epoch: f for f in files}
        final = next((f for f in files if f.final), None)
        picked = [final if w == "final" else by_epoch.get(int(w)) for w in wanted]
        if any(f is None for f in picked):
            missing.append(variant.label)
            continue
        for f in picked:
            if f not in rows:
                rows.append(f)  # type: ignore[arg-type]
    if not rows:
        what = "final files" if wanted == ["final"] else f"files for epochs {', '.join(map(str, wanted))}"
        raise UserError(f"No variant of the sweep has {what} yet; let the sweep finish, or choose saved epochs.")
    return rows, missing


def parse_pick(text: str, project: Project) -> tuple[str | None, int | str]:
    """``4`` / ``final`` (the project's own files), ``lr5e-4_dim16:final`` or ``lr5e-4_dim16`` (a
    variant, its final file by default) → (variant label or None, epoch)."""
    from tui_lora.core.compare.files import parse_epochs
    from tui_lora.core.sweep import read_manifest

    head, sep, tail = text.strip().rpartition(":")
    if not sep:
        manifest = read_manifest(project)
        if manifest is not None and manifest.variant(tail) is not None:
            return tail, "final"
        head, tail = "", tail
    epochs = parse_epochs(tail)
    if len(epochs) != 1:
        raise UserError(f"The pick {text} names more than one epoch; pick one, e.g. 4 or final.")
    if not head:
        return None, epochs[0]
    manifest = _manifest(project)
    if manifest.variant(head) is None:
        raise UserError(f"The sweep has no variant {head}; its variants are "
                        f"{', '.join(v.label for v in manifest.variants)}.")
    return head, epochs[0]


def find_variant_epoch(project: Project, label: str, epoch: int | str) -> tuple[Variant, EpochFile]:
    manifest = _manifest(project)
    variant = manifest.variant(label)
    if variant is None:
        raise UserError(f"The sweep has no variant {label}; its variants are "
                        f"{', '.join(v.label for v in manifest.variants)}.")
    files = variant_files(project, variant)
    found = next((f for f in files if (f.final if epoch == "final" else f.epoch == int(epoch))), None)
    if found is None:
        have = ", ".join(f.epoch_label for f in files) or "none yet"
        what = "final file" if epoch == "final" else f"file for epoch {epoch}"
        raise UserError(f"Variant {label} has no {what}; its saved files: {have}.")
    return variant, found


def adopt_variant(project: Project, variant: Variant) -> list[tuple[str, object, object]]:
    """Write the variant's varied values into project.toml (checked, comments kept); returns
    (key, old, new) for each value that changed."""
    changes = []
    for dotted, value in variant.values.items():
        old = project.get(dotted)
        if old != value:
            project.set(dotted, value)
            changes.append((dotted, old, value))
    if changes:
        try:
            project.save()
        except OSError as exc:
            raise UserError(f"Cannot write {project.toml_path} ({exc.strerror or exc}); free disk space or fix "
                            "the folder's permissions.") from None
    return changes
