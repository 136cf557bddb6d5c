"""The CLI's words for the steps a fix names (core.errors): the one place where an action becomes a
command line (`tui-lora train mia --resume`) and an input a flag (--base-url). The wizard says the
same steps as keys and fields (tui/common/fixes.py)."""

from __future__ import annotations

from typing import Any

from tui_lora.core.errors import ChangeInput, Given, Notice, RunAction, Step, TryAgain, UserError

# action → the command line, "{dir}" being the project folder (DIR when the error did not say).
COMMANDS: dict[str, str] = {
    "train.start": "tui-lora train {dir}",
    "train.resume": "tui-lora train {dir} --resume",
    "train.restart": "tui-lora train {dir} --restart",
    "sweep.start": "tui-lora sweep {dir} --vary SECTION.KEY=V1,V2",
    "sweep.resume": "tui-lora sweep {dir} --resume",
    "sweep.restart": "tui-lora sweep {dir} --restart --vary SECTION.KEY=V1,V2",
    "job.status": "tui-lora status {dir}",
    "job.stop": "tui-lora stop {dir}",
    "tags.undo": "tui-lora tags {dir} --undo",
    "tags.undo_force": "tui-lora tags {dir} --undo --force",
    "fetch": "tui-lora fetch {dir}",
    "tag": "tui-lora tag {dir}",
    "project.new": "tui-lora new {dir}",
    "project.open": "tui-lora open {dir}",
}

# input → the option that gives it.
FLAGS: dict[str, str] = {
    "base_model": "--base-model",
    "booru.source": "--source",
    "booru.tags": "--tags",
    "booru.order": "--order",
    "booru.base_url": "--base-url",
    "booru.credentials": "--user-id and --api-key",
    "booru.user_id": "--user-id",
    "booru.api_key": "--api-key",
    "booru.remember": "--save-credentials",
    "fetch.limit": "--limit",
    "tagger.model": "--model",
    "tagger.batch": "--batch",
    "device": "--device",
    "gpus": "--gpus",
    "dedupe.backend": "--backend",
    "compare.epochs": "--epochs",
    "compare.weights": "--weights",
    "compare.weight": "--weight",
    "compare.seeds": "--seeds",
    "sweep.vary": "--vary",
    "tags.replace": "--replace",
    "tags.pattern": "--remove-pattern",
    "override": "--set",
}
# What --user-id holds on each site (the value of a booru.credentials input).
_USER_ID = {"gelbooru": "ID", "danbooru": "LOGIN"}


def step_words(step: Step) -> str:
    """``step`` in the CLI's words."""
    if isinstance(step, RunAction):
        return "`" + COMMANDS[step.action].format(dir=step.project or "DIR") + "`"
    if isinstance(step, ChangeInput):
        if step.input == "booru.credentials" and step.value in _USER_ID:
            flag = f"--user-id {_USER_ID[step.value]} --api-key KEY"
            if not step.verb:
                flag += " (add --save-credentials to remember them)"
        else:
            value = f'"{step.value}"' if " " in step.value else step.value
            flag = FLAGS[step.input] + (f" {value}" if value else "")
        return f"{step.verb or 'pass'} {flag}"
    if isinstance(step, Given):
        return FLAGS[step.input] + (f" {step.value}" if step.value else "")
    if isinstance(step, TryAgain):
        return "re-run the same command"
    return step.plain()  # a setting, a package, disk space: the same words everywhere


def say(error: UserError | Notice) -> str:
    """The one sentence the CLI prints for ``error``."""
    return (error.notice if isinstance(error, UserError) else error).text(step_words)


def error_data(error: UserError) -> dict[str, Any]:
    """--json's error object: ``error`` (the sentence) and ``exit_code`` as always, plus the error's
    class, and its problem, fix and where as data (core.errors.Notice.to_dict; None when absent)."""
    notice = error.notice.to_dict(step_words)
    return {"error": notice.pop("message"), "exit_code": error.exit_code, "type": type(error).__name__, **notice}


def notice_data(notice: Notice | None) -> dict[str, Any] | None:
    """A stored notice (a run's error, stop reason or warning) for --json: its sentence, problem and fix."""
    return notice.to_dict(step_words) if notice is not None else None
