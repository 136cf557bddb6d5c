"""The Compare form's defaults and checks, turned into `tui-lora compare` arguments. No textual.

Each field's problem is one sentence for the line under it; the checks are the command's own
(parse_epochs, parse_weights, the sample-prompt parser), so what the form accepts the child accepts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tui_lora.core.compare import EpochFile, list_epoch_files, parse_epochs, parse_weights
from tui_lora.core.compare.files import MAX_WEIGHT
from tui_lora.core.errors import UserError
from tui_lora.core.sample_prompts import DEFAULT_STEPS, MAX_STEPS, load_sample_prompts, parse_prompt_line
from tui_lora.tui.common.fixes import say

FIELDS = ("prompt", "negative", "epochs", "weights", "seed", "steps")
DEFAULT_WEIGHTS_TEXT = "0.6,0.8,1.0"
# Remembered per project in the user's config folder, like the Fetch form. Not the epochs: they follow
# the files that are saved now.
MEMORY_FILE = "wizard-compare.toml"
REMEMBERED = ("prompt", "negative", "weights", "seed", "steps")


@dataclass
class FormCheck:
    args: list[str] = field(default_factory=list)  # for `tui-lora compare DIR …` when nothing is wrong
    errors: dict[str, str] = field(default_factory=dict)  # field → sentence
    notes: dict[str, str] = field(default_factory=dict)  # field → a hint that does not block
    cells: int = 0  # images the grid will hold

    @property
    def ok(self) -> bool:
        return not self.errors


def epochs_text(files: list[EpochFile]) -> str:
    return ",".join(str(f.epoch) for f in files)


def saved_text(files: list[EpochFile]) -> str:
    return ", ".join(str(f.epoch) + (" (final)" if f.final else "") for f in files)


def defaults(project, files: list[EpochFile]) -> dict[str, str]:
    """The first sample prompt (its size, CFG and sampler kept as kohya options), else the trigger word;
    every saved epoch; weights 0.6, 0.8, 1.0; the prompt's seed or training.seed; 30 steps."""
    s = project.settings
    try:
        prompts = load_sample_prompts(project.root, s["sample"])
    except UserError:
        prompts = []  # a broken prompt file is the Steps screen's to report; start from the trigger word
    trigger = s["project"]["trigger_word"] or ""
    prompt, negative, seed, steps = trigger, "", s["training"]["seed"], DEFAULT_STEPS
    if prompts:
        sp = prompts[0]
        options = [f"--{flag} {value}" for flag, value in (("w", sp.width), ("h", sp.height), ("l", sp.cfg),
                                                             ("ss", sp.sampler)) if value is not None]
        prompt = " ".join([sp.prompt, *options])
        negative = sp.negative
        seed = sp.seed if sp.seed is not None else seed
        steps = sp.steps or steps
    return {"prompt": prompt, "negative": negative, "epochs": epochs_text(files), "weights": DEFAULT_WEIGHTS_TEXT,
            "seed": str(seed), "steps": str(steps)}


def check(project, values: dict[str, str], files: list[EpochFile] | None = None) -> FormCheck:
    """Every field checked at once (the form shows all problems, not the first)."""
    files = list_epoch_files(project) if files is None else files
    out = FormCheck()
    args: list[str] = []
    prompt = values.get("prompt", "").strip()
    trigger = project.settings["project"]["trigger_word"] or ""
    if not prompt:
        out.errors["prompt"] = "Type a prompt" + (f" with the trigger word {trigger}." if trigger else ".")
    else:
        try:
            sp = parse_prompt_line(prompt, where="The prompt")
            args += ["--prompt", prompt]
            if trigger and trigger.lower() not in sp.prompt.lower():
                out.notes["prompt"] = f"Without the trigger word {trigger} the LoRA may barely show."
        except UserError as exc:
            out.errors["prompt"] = say(exc, "compare")
    negative = values.get("negative", "").strip()
    if negative:
        args += ["--negative", negative]
    rows = _epochs(values.get("epochs", ""), files, out)
    if rows:
        args += ["--epochs", ",".join(str(e) for e in rows)]
    weights = _weights(values.get("weights", ""), out)
    if weights:
        args += ["--weights", ",".join(f"{w:g}" for w in weights)]
    seed = values.get("seed", "").strip()
    if not seed.isdigit():
        out.errors["seed"] = "The seed is a whole number, e.g. 42; the same seed gives the same noise."
    else:
        args += ["--seed", str(int(seed))]
    steps = values.get("steps", "").strip()
    if not steps.isdigit() or not 1 <= int(steps) <= MAX_STEPS:
        out.errors["steps"] = f"Steps go from 1 to {MAX_STEPS}; 20-30 is usual."
    else:
        args += ["--steps", str(int(steps))]
    if rows and weights:
        out.cells = 1 + len(rows) * len(weights)
    out.args = args if out.ok else []
    return out


def _epochs(text: str, files: list[EpochFile], out: FormCheck) -> list[int]:
    if not text.strip():
        out.notes["epochs"] = f"Every saved epoch: {saved_text(files)}."
        return [f.epoch for f in files]
    try:
        wanted = parse_epochs(text)
    except UserError:
        out.errors["epochs"] = "Write epoch numbers separated by commas, e.g. 2,4,final."
        return []
    by_epoch = {f.epoch: f for f in files}
    final = next((f for f in files if f.final), None)
    rows: list[int] = []
    for w in wanted:
        f = final if w == "final" else by_epoch.get(int(w))
        if f is None:
            what = "no final file" if w == "final" else f"no file for epoch {w}"
            out.errors["epochs"] = f"There is {what}; the saved epochs are {saved_text(files)}."
            return []
        if f.epoch not in rows:
            rows.append(f.epoch)
    out.notes["epochs"] = f"Saved: {saved_text(files)}."
    return rows


def _weights(text: str, out: FormCheck) -> list[float]:
    parts = [t.strip() for t in text.split(",") if t.strip()]
    if not parts:
        out.errors["weights"] = f"Give at least one weight, e.g. {DEFAULT_WEIGHTS_TEXT}."
        return []
    try:
        [float(p) for p in parts]
    except ValueError:
        out.errors["weights"] = f"Write weights separated by commas, e.g. {DEFAULT_WEIGHTS_TEXT}."
        return []
    try:
        return parse_weights(text)
    except UserError:
        out.errors["weights"] = f"Weights go from -{MAX_WEIGHT:g} to {MAX_WEIGHT:g} (1.0 is full strength)."
        return []


# ----- remembering the form ---------------------------------------------------------------------
def remembered(project) -> dict[str, str]:
    """The fields as last left for this project (only those that were remembered). A prompt kept
    under another trigger word gets the project's current one (the trigger word is one fact)."""
    from tui_lora.core.sample_prompts import swap_trigger
    from tui_lora.core.userconfig import load_form

    saved = load_form(MEMORY_FILE, project.root) or {}
    out = {k: str(v) for k, v in saved.items() if k in REMEMBERED}
    trigger = project.settings["project"]["trigger_word"] or ""
    if "prompt" in out and str(saved.get("trigger", trigger)) != trigger:
        out["prompt"] = swap_trigger(out["prompt"], str(saved.get("trigger", "")), trigger)
    return out


def remember(project, values: dict[str, str]) -> None:
    """Keep the form for this project, with the trigger word its prompt was written for; never fails."""
    from tui_lora.core.userconfig import save_form

    kept = {k: values[k] for k in REMEMBERED if k in values}
    save_form(MEMORY_FILE, project.root, kept | {"trigger": project.settings["project"]["trigger_word"] or ""})
