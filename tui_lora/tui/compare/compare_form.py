"""The Compare form's defaults and checks, turned into `tui-lora compare` arguments. No textual.

Each field's problem is one sentence for the line under it; the checks are the command's own
(parse_epochs, parse_weights, parse_seeds, the sample-prompt parser), so what the form accepts the
child accepts. The prompt field holds the first prompt, the others are a list edited in a dialog
(``extra``); with ``variants`` the rows are the sweep's variants × the epochs (default: final).
The wizard always renders one combined sheet, and flips through its pictures in the terminal.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tui_lora.core.compare import EpochFile, list_epoch_files, parse_epochs, parse_seeds, parse_weights
from tui_lora.core.compare.files import MAX_SEEDS, MAX_WEIGHT
from tui_lora.core.errors import UserError
from tui_lora.core.sample_prompts import DEFAULT_STEPS, MAX_STEPS, load_sample_prompts, parse_prompt_line
from tui_lora.tui.common.fixes import say

FIELDS = ("prompt", "negative", "epochs", "weights", "seed", "steps")
DEFAULT_WEIGHTS_TEXT = "0.6,0.8,1.0"
# Remembered per project in the user's config folder, like the Fetch form. Not the epochs: they follow
# the files that are saved now.
MEMORY_FILE = "wizard-compare.toml"
REMEMBERED = ("prompt", "negative", "weights", "seed", "steps")
EXTRA_KEY = "more_prompts"  # the prompt list after the first, one per line, remembered with the form
SWEEP_EPOCHS = "final"


@dataclass
class FormCheck:
    args: list[str] = field(default_factory=list)  # for `tui-lora compare DIR …` when nothing is wrong
    errors: dict[str, str] = field(default_factory=dict)  # field → sentence
    notes: dict[str, str] = field(default_factory=dict)  # field → a hint that does not block
    cells: int = 0  # images the grid will hold
    per_cell: int = 1  # prompts × seeds

    @property
    def ok(self) -> bool:
        return not self.errors


def epochs_text(files: list[EpochFile]) -> str:
    return ",".join(str(f.epoch) for f in files)


def saved_text(files: list[EpochFile]) -> str:
    return ", ".join(str(f.epoch) + (" (final)" if f.final else "") for f in files)


def prompt_text(sp) -> str:
    """A sample prompt as the form shows it: its size, CFG and sampler kept as kohya options."""
    options = [f"--{flag} {value}" for flag, value in (("w", sp.width), ("h", sp.height), ("l", sp.cfg),
                                                         ("ss", sp.sampler)) if value is not None]
    return " ".join([sp.prompt, *options])


def default_extra(project) -> list[str]:
    """The [sample] prompts after the first: the list the form starts with."""
    try:
        prompts = load_sample_prompts(project.root, project.settings["sample"])
    except UserError:
        return []
    return [prompt_text(sp) for sp in prompts[1:]]


def defaults(project, files: list[EpochFile]) -> dict[str, str]:
    """The first sample prompt (its size, CFG and sampler kept as kohya options), else the trigger word;
    every saved epoch; weights 0.6, 0.8, 1.0; two seeds from the prompt's seed or training.seed; 30 steps."""
    s = project.settings
    try:
        prompts = load_sample_prompts(project.root, s["sample"])
    except UserError:
        prompts = []  # a broken prompt file is the Steps screen's to report; start from the trigger word
    trigger = s["project"]["trigger_word"] or ""
    prompt, negative, seed, steps = trigger, "", s["training"]["seed"], DEFAULT_STEPS
    if prompts:
        sp = prompts[0]
        prompt = prompt_text(sp)
        negative = sp.negative
        seed = sp.seed if sp.seed is not None else seed
        steps = sp.steps or steps
    return {"prompt": prompt, "negative": negative, "epochs": epochs_text(files), "weights": DEFAULT_WEIGHTS_TEXT,
            "seed": f"{seed},{seed + 1}", "steps": str(steps)}


def check(project, values: dict[str, str], files: list[EpochFile] | None = None, *,
          extra: list[str] | tuple[str, ...] = (), variants: bool = False) -> FormCheck:
    """Every field checked at once (the form shows all problems, not the first)."""
    files = list_epoch_files(project) if files is None else files
    out = FormCheck()
    args: list[str] = []
    prompt = values.get("prompt", "").strip()
    trigger = project.settings["project"]["trigger_word"] or ""
    more = [line.strip() for line in extra if line.strip()]
    if not prompt:
        out.errors["prompt"] = "Type a prompt" + (f" with the trigger word {trigger}." if trigger else ".")
    else:
        try:
            parsed = [parse_prompt_line(text, where="The prompt" if n == 0 else f"Prompt {n + 1} of the list")
                      for n, text in enumerate([prompt, *more])]
            for text in (prompt, *more):
                args += ["--prompt", text]
            notes = []
            if more:
                notes.append(f"And {len(more)} more prompt{'s' if len(more) != 1 else ''} from the list (^e edits it).")
            if trigger and any(trigger.lower() not in sp.prompt.lower() for sp in parsed):
                notes.append(f"Without the trigger word {trigger} the LoRA may barely show.")
            out.notes["prompt"] = " ".join(notes)
        except UserError as exc:
            out.errors["prompt"] = say(exc, "compare")
    negative = values.get("negative", "").strip()
    if negative:
        args += ["--negative", negative]
    if variants:
        rows = _variant_rows(project, values.get("epochs", ""), out)
        if rows:
            args += ["--sweep", "--epochs", values.get("epochs", "").strip() or SWEEP_EPOCHS]
    else:
        rows = _epochs(values.get("epochs", ""), files, out)
        if rows:
            args += ["--epochs", ",".join(str(e) for e in rows)]
    weights = _weights(values.get("weights", ""), out)
    if weights:
        args += ["--weights", ",".join(f"{w:g}" for w in weights)]
    seeds = _seeds(values.get("seed", ""), out)
    if seeds:
        args += ["--seeds", ",".join(str(s) for s in seeds)]
    steps = values.get("steps", "").strip()
    if not steps.isdigit() or not 1 <= int(steps) <= MAX_STEPS:
        out.errors["steps"] = f"Steps go from 1 to {MAX_STEPS}; 20-30 is usual."
    else:
        args += ["--steps", str(int(steps))]
    args += ["--sheet", "combined"]
    out.per_cell = (1 + len(more)) * max(1, len(seeds))
    if rows and weights:
        out.cells = (1 + len(rows) * len(weights)) * out.per_cell
    out.args = args if out.ok else []
    return out


def _seeds(text: str, out: FormCheck) -> list[int]:
    try:
        seeds = parse_seeds(text)
    except UserError:
        out.errors["seed"] = ("Seeds are whole numbers separated by commas, e.g. 42,43; each gives every prompt "
                              "another start.")
        return []
    if len(seeds) > MAX_SEEDS:
        out.errors["seed"] = f"Give at most {MAX_SEEDS} seeds (2-4 show a LoRA's range)."
        return []
    return seeds


def has_sweep(project) -> bool:
    from tui_lora.core.sweep import read_manifest

    return read_manifest(project) is not None


def _variant_rows(project, text: str, out: FormCheck) -> list:
    from tui_lora.core.compare import select_variant_rows

    try:
        wanted = parse_epochs(text) if text.strip() else [SWEEP_EPOCHS]
    except UserError:
        out.errors["epochs"] = "Write epoch numbers separated by commas, e.g. final or 2,4."
        return []
    try:
        rows, missing = select_variant_rows(project, wanted)
    except UserError as exc:
        out.errors["epochs"] = say(exc, "compare")
        return []
    variants = len({r.variant for r in rows})
    left = f"; {len(missing)} without such a file left out" if missing else ""
    out.notes["epochs"] = (f"Rows: {variants} variant{'s' if variants != 1 else ''} × {', '.join(map(str, wanted))}"
                           f"{left}.")
    return rows


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
    """The fields as last left for this project (only those that were remembered; the prompt list after
    the first as EXTRA_KEY, one per line). Prompts kept under another trigger word get the project's
    current one (the trigger word is one fact)."""
    from tui_lora.core.sample_prompts import swap_trigger
    from tui_lora.core.userconfig import load_form

    saved = load_form(MEMORY_FILE, project.root) or {}
    out = {k: str(v) for k, v in saved.items() if k in (*REMEMBERED, EXTRA_KEY)}
    trigger = project.settings["project"]["trigger_word"] or ""
    old = str(saved.get("trigger", trigger))
    if old != trigger:
        for key in ("prompt", EXTRA_KEY):
            if key in out:
                out[key] = "\n".join(swap_trigger(line, old, trigger) if line.strip() else line
                                     for line in out[key].split("\n"))
    return out


def remember(project, values: dict[str, str], extra: list[str] | None = None) -> None:
    """Keep the form for this project, with the trigger word its prompts were written for; never fails."""
    from tui_lora.core.userconfig import save_form

    kept = {k: values[k] for k in REMEMBERED if k in values}
    if extra is not None:
        kept[EXTRA_KEY] = "\n".join(extra)
    save_form(MEMORY_FILE, project.root, kept | {"trigger": project.settings["project"]["trigger_word"] or ""})
