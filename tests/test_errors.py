"""Errors carry their fix as data: core names no interface, the CLI and the wizard each say the fix in
their own words (one renderer each), and nothing in tui/ or commands/ reads an error's text."""

import ast
import json
import re
from pathlib import Path

import pytest

import tui_lora
from tui_lora.commands import _fixes as cli
from tui_lora.core import errors as E
from tui_lora.core.errors import (
    ChangeInput,
    ChangeSetting,
    ConfigError,
    Fix,
    FreeDisk,
    Given,
    InstallPackage,
    Notice,
    RunAction,
    TryAgain,
    UserError,
    Words,
)
from tui_lora.tui.common import fixes as wizard

PACKAGE = Path(tui_lora.__file__).parent


def test_every_action_and_input_has_words_in_both_front_ends():
    assert set(cli.COMMANDS) == set(wizard.KEYS) == E.ACTIONS
    assert set(cli.FLAGS) == set(wizard.FIELDS) == E.INPUTS
    with pytest.raises(ValueError):
        RunAction("train.explode")
    with pytest.raises(ValueError):
        ChangeInput("no.such.input")
    with pytest.raises(ValueError, match="names 1 steps but has 2"):
        Fix("use {}", TryAgain(), TryAgain())


def test_one_fix_in_the_words_of_each_front_end():
    resume, restart = RunAction("train.resume", "/p/mia"), RunAction("train.restart", "/p/mia")
    stopped = UserError("Training stopped at step 6",
                        Fix("continue it with {}, or start over with {}", resume, restart))
    assert cli.say(stopped) == ("Training stopped at step 6; continue it with `tui-lora train /p/mia --resume`, or "
                                "start over with `tui-lora train /p/mia --restart`.")
    assert wizard.say(stopped, "train") == ("Training stopped at step 6; continue it with r (Resume), or start over "
                                            "with s (Start over).")
    # On another step the key says where it is; a step's own action is the step itself.
    assert wizard.say(stopped, "project").endswith(
        "r (Resume on 6 Train), or start over with s (Start over on 6 Train).")
    running = UserError("A training is running", Fix("watch it with {}", RunAction("job.status", "/p")))
    assert wizard.say(running, "tags") == "A training is running; watch it with 6 Train."
    assert cli.say(running) == "A training is running; watch it with `tui-lora status /p`."
    # An action without a project names DIR in the CLI.
    assert cli.step_words(RunAction("train.restart")) == "`tui-lora train DIR --restart`"


def test_inputs_settings_and_the_rest():
    limit = UserError("Too many", Fix("{} or {}", FreeDisk("/d"), ChangeInput("fetch.limit", verb="lower")))
    assert cli.say(limit) == "Too many; free disk space or lower --limit."
    assert wizard.say(limit, "fetch") == "Too many; free disk space or lower the Limit."
    source = Fix("{}", ChangeInput("booru.source", "safebooru", verb="try"))
    assert cli.say(Notice("x", source)) == "x; try --source safebooru."
    assert wizard.say(Notice("x", source), "fetch") == "x; try Safebooru as the source."
    creds = Fix("{}", ChangeInput("booru.credentials", "danbooru"))  # the value of a credentials input is its site
    assert cli.say(Notice("x", creds)) == ("x; pass --user-id LOGIN --api-key KEY (add --save-credentials to remember "
                                          "them).")
    assert wizard.say(Notice("x", creds), "fetch") == "x; fill in the account fields."
    tags = Fix("{}", ChangeInput("booru.tags", "1girl solo", verb="e.g."))
    assert cli.say(Notice("x", tags)) == 'x; e.g. --tags "1girl solo".'
    given = Notice(Words("{} is not a list", Given("compare.epochs", "two")))
    assert cli.say(given) == "--epochs two is not a list."
    assert wizard.say(Notice(Words("{} needs a pattern", Given("tags.pattern")))) == "The pattern needs a pattern."
    # Settings, packages, disk space: the same words everywhere, and in str() too.
    fix = Fix("{} or {}, then {}", ChangeSetting("model.allow_pickle", "true"), InstallPackage("prodigyopt"),
              TryAgain())
    said = "x; set model.allow_pickle = true or `pip install prodigyopt`, then "
    assert cli.say(Notice("x", fix)) == said + "re-run the same command."
    assert wizard.say(Notice("x", fix)) == said + "try again."
    assert str(UserError("x", fix)).startswith("x; set model.allow_pickle = true or `pip install prodigyopt`")
    # An action or an input has no interface-free words: str() (logs) shows a placeholder.
    assert str(UserError("x", Fix("use {}", RunAction("tags.undo", "/p")))) == "x; use <action tags.undo /p>."


def test_user_data_with_braces_stays_as_it_is():
    error = UserError("The folder '/a/{}b' is odd", Fix("rename it"))
    assert cli.say(error) == "The folder '/a/{}b' is odd; rename it."
    assert cli.say(UserError("{0} {}")) == "{0} {}."


def test_a_config_error_says_where_it_was_read_unless_shown_beside_the_field():
    error = ConfigError("training.unet_lr = 'x' is not a number", Fix("it must be a number"),
                        where=Given("override"))
    assert cli.say(error) == "--set: training.unet_lr = 'x' is not a number; it must be a number."
    assert wizard.say(error, "steps", placed=False) == "training.unet_lr = 'x' is not a number; it must be a number."
    from tui_lora.core.settings import KEY_INDEX, coerce

    with pytest.raises(ConfigError) as info:
        coerce(KEY_INDEX["tags.threshold"], 2.0)
    assert cli.say(info.value).startswith("project.toml: tags.threshold = 2.0 is not allowed; it must be ")


def test_a_notice_survives_json_and_old_plain_sentences_read_as_they_were():
    notice = Notice(Words("{} is odd", Given("device", "tpu")),
                    Fix("{} and {}", FreeDisk("/x"), RunAction("fetch", "/p")), "project.toml")
    data = json.loads(json.dumps(notice.to_dict(cli.step_words)))
    assert data["message"] == "project.toml: --device tpu is odd; free disk space and `tui-lora fetch /p`."
    assert data["fix"]["steps"][1] == {"kind": "action", "action": "fetch", "project": "/p"}
    assert Notice.from_dict(data) == notice
    assert Notice.from_dict({"message": "Written before fixes were data."}) == Notice("Written before fixes were data.")
    assert UserError.from_notice(notice, exit_code=3).exit_code == 3


def test_the_cli_json_error_carries_the_fix_as_data(tmp_path, run_cli):
    root = tmp_path / "proj"
    r = run_cli("new", root, "--preset", "sd15-anime-character", "--base-model", str(tmp_path / "missing-model"),
                "--json")
    assert r.returncode == 2
    data = json.loads(r.stdout)
    assert data["exit_code"] == 2 and data["error"].startswith("The base model path") and data["type"] == "UserError"
    assert data["fix"]["text"].startswith("check the path or give a Hugging Face repo id")
    r = run_cli("status", root, "--json")  # no project there: the fix is an action
    data = json.loads(r.stdout)
    assert data["error"] == f"The project folder {root} does not exist; create it with `tui-lora new {root}`."
    assert data["fix"]["steps"] == [{"kind": "action", "action": "project.new", "project": str(root)}]
    assert data["problem"]["text"] == f"The project folder {root} does not exist"


# ----- no sentence names an interface, no text is parsed ---------------------------------------------
SENTENCE_CALLS = {"Fix", "Words", "Notice", "warning", "warn"}


def _error_classes() -> set[str]:
    names = set()
    for path in (PACKAGE / "core").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and any(isinstance(b, ast.Name) and (
                    b.id.endswith(("Error", "Failed")) or b.id in names) for b in node.bases):
                names.add(node.name)
    return names | {"UserError"}


def _cli_words() -> re.Pattern[str]:
    from tui_lora.cli import COMMANDS, build_parser

    flags = {o for action in build_parser()._subparsers._group_actions for sub in action.choices.values()
             for a in sub._actions for o in a.option_strings if o.startswith("--")} - {"--help"}
    return re.compile(r"tui-lora (?:" + "|".join(COMMANDS) + r")\b|(?<![\w-])(?:"
                      + "|".join(re.escape(f) for f in sorted(flags, key=len, reverse=True)) + r")(?![\w-])")


def test_core_sentences_name_no_command_and_no_option():
    """What core raises, warns or records names steps as data; the CLI's words come from its renderer."""
    calls = _error_classes() | SENTENCE_CALLS
    words = _cli_words()
    found = []
    for path in sorted((PACKAGE / "core").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            if name not in calls:
                continue
            for arg in [*node.args, *(k.value for k in node.keywords)]:
                for const in ast.walk(arg):
                    if isinstance(const, ast.Constant) and isinstance(const.value, str) and words.search(const.value):
                        found.append(f"{path.relative_to(PACKAGE)}:{const.lineno}: {const.value!r}")
    assert len(calls) > 15 and not found, "\n".join(found)


MATCHING = {"startswith", "endswith", "removeprefix", "removesuffix", "split", "rsplit", "partition", "rpartition",
            "replace", "find", "rfind", "index", "count", "format"}


def _message_reads(tree: ast.AST) -> list[tuple[int, str]]:
    """Where code reads an error's text: ``x.message`` on an exception; ``str(exc)`` or a result's
    sentence (``.message``, ``.reason``, ``.error``) in a comparison, a matching or cutting string
    method or a regex; the old rewording helpers. (Showing the first line of an unexpected
    exception, ``str(exc).strip()``, reads nothing; neither does showing a sentence.)"""
    caught: set[str] = {"exc", "error", "err", "e", "exception"}
    for node in ast.walk(tree):
        if isinstance(node, ast.ExceptHandler) and node.name:
            caught.add(node.name)

    def is_error(node: ast.AST) -> bool:
        return (isinstance(node, ast.Name) and node.id in caught) or (
            isinstance(node, ast.Attribute) and node.attr == "error")

    def is_text(node: ast.AST) -> bool:
        if isinstance(node, ast.Attribute) and (node.attr in ("message", "reason") or (
                node.attr == "error" and not is_error(node.value))):  # a sentence some result carries
            return True
        return (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "str"
                and len(node.args) == 1 and is_error(node.args[0]))

    def is_literal(node: ast.AST) -> bool:
        return isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, str))

    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "message" and is_error(node.value):
            out.append((node.lineno, "reads .message of an error"))
        elif isinstance(node, ast.Compare) and any(map(is_text, [node.left, *node.comparators])) and any(
                map(is_literal, [node.left, *node.comparators])):  # (`x.error is not None` compares no text)
            out.append((node.lineno, "compares an error's text"))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if is_text(node.func.value) and node.func.attr in MATCHING:
                out.append((node.lineno, f"calls .{node.func.attr}() on an error's text"))
            if isinstance(node.func.value, ast.Name) and node.func.value.id == "re":
                if any(is_text(a) for a in node.args):
                    out.append((node.lineno, "runs a regex over an error's text"))
                if node.args and is_literal(node.args[0]) and re.search(r"tui-lora|--\w", ast.unparse(node.args[0])):
                    out.append((node.lineno, "has a pattern for the CLI's words"))  # a rewording table
        elif isinstance(node, ast.Name) and node.id in ("reword", "wizard_words", "wizard_wording"):
            out.append((node.lineno, f"uses {node.id}"))
    return out


def test_no_error_text_is_parsed_in_the_wizard_or_the_commands():
    found = [f"{path.relative_to(PACKAGE)}:{line}: {what}"
             for folder in ("tui", "commands") for path in sorted((PACKAGE / folder).rglob("*.py"))
             for line, what in _message_reads(ast.parse(path.read_text(encoding="utf-8")))]
    assert not found, "\n".join(found)
    # The check itself finds each kind of reading it is there for.
    bad = ast.parse("try:\n    f()\nexcept UserError as problem:\n    if 'changed after' in problem.message: pass\n"
                    "    str(problem).startswith('x')\n    re.sub('a', 'b', str(problem))\n"
                    "    text = reword(message.error.message, RULES)\n"
                    "if all('connect' in i.reason for i in failed) or cf.error.startswith('cannot'): pass\n"
                    "RULES = ((re.compile(r'`tui-lora train [^`]*--resume`'), 'r'),)\n")
    assert sorted(what for _, what in _message_reads(bad)) == sorted([
        "reads .message of an error", "compares an error's text", "calls .startswith() on an error's text",
        "runs a regex over an error's text", "uses reword", "reads .message of an error", "compares an error's text",
        "calls .startswith() on an error's text", "has a pattern for the CLI's words"])
