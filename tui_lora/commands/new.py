"""tui-lora new DIR [--preset NAME] [--base-model REF] [--trigger WORD]"""

from __future__ import annotations

import argparse

from tui_lora.commands._common import emit, is_interactive
from tui_lora.core.errors import UserError

HELP = "create a project folder from a preset"
DESCRIPTION = (
    "Create a project: project.toml from a preset, the dataset/<N>_<name>/ folder and the rest of the layout. "
    "In a terminal, missing choices are asked for; in scripts pass --preset and --base-model."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", metavar="DIR", help="the new project folder (must not exist, or be empty)")
    p.add_argument("--preset", metavar="NAME", help="a preset name, e.g. sd15-anime-character (see the list in a terminal)")
    p.add_argument("--base-model", metavar="REF", help="Hugging Face repo id, diffusers folder or .safetensors checkpoint")
    p.add_argument("--trigger", metavar="WORD", help="the trigger word put first in every caption")
    p.add_argument("--name", metavar="NAME", help="the project name (default: the folder name)")


def run(args: argparse.Namespace) -> int:
    # here, not at the top: `tui-lora --help` never needs the schema, presets or model checks
    from tui_lora.core.models import DEFAULT_BASE_MODELS, inspect_model
    from tui_lora.core.presets import list_presets
    from tui_lora.core.project import Project, family_label
    from tui_lora.core.userconfig import remember_project

    preset, base_model, trigger = args.preset, args.base_model, args.trigger
    if preset is None or base_model is None:
        if not is_interactive() or args.json:
            missing = [f for f, v in (("--preset", preset), ("--base-model", base_model)) if v is None]
            names = ", ".join(p.name for p in list_presets())
            raise UserError(
                f"Missing {' and '.join(missing)}; pass them when not running in a terminal "
                f"(presets: {names}), e.g. tui-lora new {args.dir} --preset sd15-anime-character "
                f"--base-model {DEFAULT_BASE_MODELS['sd15']}."
            )
        preset, base_model, trigger = _ask(preset, base_model, trigger)
    project = Project.create(args.dir, preset=preset, base_model=base_model, trigger=trigger or "", name=args.name)
    remember_project(project.root)
    concept = project.concepts()[0]
    info = inspect_model(project.get("model.pretrained_model_name_or_path"))
    detected = info.detected_text() if info.detected else ""
    data = {
        "path": str(project.root),
        "name": project.name,
        "preset": preset,
        "family": project.family,
        "base_model": project.get("model.pretrained_model_name_or_path"),
        "trigger_word": project.get("project.trigger_word"),
        "dataset_folder": str(concept.path),
        "repeats": concept.repeats,
        "v_parameterization": project.get("model.v_parameterization"),
        "zero_terminal_snr": project.get("model.zero_terminal_snr"),
        "detected": detected,
    }
    lines = [f"Created {project.root} ({family_label(project.family)}, preset {preset})."]
    if detected:
        lines.append(f"Detected from the model: {detected}; project.toml says so.")
    emit(args, data, [
        *lines,
        f"Put 15-50 images into {concept.path} (or run `tui-lora fetch {args.dir} --tags ...`),",
        f"then `tui-lora tag {args.dir}`, `tui-lora steps {args.dir}` and `tui-lora train {args.dir}`.",
    ])
    return 0


def _valid_model(ref: str) -> bool | str:
    """questionary validator: True, or the one-sentence problem shown under the prompt."""
    from tui_lora.core.models import inspect_model

    from tui_lora.commands._fixes import say

    try:
        inspect_model(ref)
    except UserError as exc:
        return say(exc)
    return True


def _ask(preset: str | None, base_model: str | None, trigger: str | None) -> tuple[str, str, str]:
    import questionary

    from tui_lora.core.models import DEFAULT_BASE_MODELS
    from tui_lora.core.presets import list_presets, load_preset
    from tui_lora.core.project import family_label

    if preset is None:
        presets = list_presets()
        choice = questionary.select(
            "Preset:",
            choices=[questionary.Choice(f"{p.name:26} {p.description}", value=p.name) for p in presets],
        ).ask()
        if choice is None:
            raise KeyboardInterrupt
        preset = choice
    family = load_preset(preset).family
    if base_model is None:
        answer = questionary.text(
            f"Base model ({family_label(family)}: repo id, diffusers folder or .safetensors file):",
            default=DEFAULT_BASE_MODELS[family],
            validate=_valid_model,
        ).ask()
        if answer is None:
            raise KeyboardInterrupt
        base_model = answer.strip()
    if trigger is None:
        answer = questionary.text("Trigger word (a rare word such as ohwx; empty for none):", default="").ask()
        if answer is None:
            raise KeyboardInterrupt
        trigger = answer.strip()
    return preset, base_model, trigger
