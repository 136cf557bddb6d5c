"""Errors a user can act on, with their fix as data.

A ``UserError`` is one sentence: the problem, then what resolves it. The problem is plain words;
the fix is a :class:`Fix`: plain words with ``{}`` where it names a *step* the user takes (run an
action, change a setting, give a command another value, install a package, free disk space, try
again); a problem may name what the user gave the same way (:class:`Given`: "--epochs two").
Core never names an interface: each front end names the steps in its own words, in one
place (the CLI in ``commands/_fixes.py``: "`tui-lora train mia --resume`"; the wizard in
``tui/common/fixes.py``: "r (Resume)"). A :class:`Notice` keeps such a sentence as data where it outlives
its process (the training's events and record, a child's JSON). Conditions callers act on have
their own class (:class:`UndoConflict`, :class:`JobRunning` …), so no caller reads message text.

``str(exc)`` (logs, tracebacks) names an action or an input as a placeholder, e.g.
``<action train.resume /p>``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar, Union


# ----- the steps a fix names (a closed set) --------------------------------------------------------
# What a RunAction may run: each front end offers every one (a command, or a key of a step).
ACTIONS: frozenset[str] = frozenset({
    "train.start", "train.resume", "train.restart",  # a new run / continue the stopped one / discard it
    "sweep.start", "sweep.resume", "sweep.restart",  # variants of the settings: new / continue / set aside
    "job.status", "job.stop",  # watch / stop the running training
    "tags.undo", "tags.undo_force",  # undo the last caption operation (force: over later hand edits)
    "fetch", "tag",  # download images / tag them
    "project.new", "project.open",
})

# What a ChangeInput may change: a value the user gives the command at hand (a CLI option, a wizard field).
INPUTS: frozenset[str] = frozenset({
    "base_model",  # the base model to create a project on / to compare on
    "booru.source", "booru.tags", "booru.order", "booru.base_url", "fetch.limit",
    "booru.credentials", "booru.user_id", "booru.api_key",  # both fields at once, or one of them
    "booru.remember",  # keep the account for the site's address
    "tagger.model", "tagger.batch", "device", "gpus", "dedupe.backend",
    "compare.epochs", "compare.weights", "compare.weight", "compare.seeds",
    "sweep.vary",  # a setting and its values to vary (section.key=v1,v2)
    "tags.replace", "tags.pattern",
    "override",  # a section.key=value override of one run (--set)
})


@dataclass(frozen=True)
class RunAction:
    """Run one of :data:`ACTIONS`, on the project folder ``project`` ("" for the one at hand)."""

    action: str
    project: str = ""
    kind: ClassVar[str] = "action"

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"unknown action {self.action!r}")

    def plain(self) -> str:
        return _placeholder(self)


@dataclass(frozen=True)
class ChangeSetting:
    """Change the project.toml setting ``key`` (dotted), to ``value`` when one is suggested.
    ``verb`` is how (set, fix, clear, raise, choose another …; "" names the key alone)."""

    key: str
    value: str = ""
    verb: str = "set"
    kind: ClassVar[str] = "setting"

    def plain(self) -> str:
        """project.toml's keys are the same words everywhere: ``set model.allow_pickle = true``."""
        return " ".join(filter(None, (self.verb, self.key))) + (f" = {self.value}" if self.value else "")


@dataclass(frozen=True)
class ChangeInput:
    """Give the command another value for the input ``input`` (one of :data:`INPUTS`), ``value``
    when one is suggested. ``verb`` is the words before its name (check, lower, remove it from …);
    without one the front end says its own ("pass --x", "fill in X")."""

    input: str
    value: str = ""
    verb: str = ""
    kind: ClassVar[str] = "input"

    def __post_init__(self) -> None:
        if self.input not in INPUTS:
            raise ValueError(f"unknown input {self.input!r}")

    def plain(self) -> str:
        return _placeholder(self)


@dataclass(frozen=True)
class Given:
    """Not a step: an input named as such, with the ``value`` the user gave it, in a problem ("--epochs
    two is not a list of epoch numbers") or as an aside in a fix ("(or --base-model)")."""

    input: str
    value: str = ""
    kind: ClassVar[str] = "given"

    def __post_init__(self) -> None:
        if self.input not in INPUTS:
            raise ValueError(f"unknown input {self.input!r}")

    def plain(self) -> str:
        return _placeholder(self)


@dataclass(frozen=True)
class InstallPackage:
    """Install the Python package ``package``."""

    package: str
    kind: ClassVar[str] = "install"

    def plain(self) -> str:
        return f"`pip install {self.package}`"


@dataclass(frozen=True)
class FreeDisk:
    """Free disk space (where ``path`` is, when known)."""

    path: str = ""
    kind: ClassVar[str] = "free_disk"

    def plain(self) -> str:
        return "free disk space"


@dataclass(frozen=True)
class TryAgain:
    """Run the same thing again (the cause may be gone by then, or finished work is kept)."""

    kind: ClassVar[str] = "try_again"

    def plain(self) -> str:
        return "try again"


Step = Union[RunAction, ChangeSetting, ChangeInput, Given, InstallPackage, FreeDisk, TryAgain]
STEP_KINDS: dict[str, type] = {c.kind: c for c in (RunAction, ChangeSetting, ChangeInput, Given, InstallPackage,
                                                      FreeDisk, TryAgain)}
Namer = Callable[[Step], str]


def step_to_dict(step: Step) -> dict[str, Any]:
    return {"kind": step.kind, **asdict(step)}


def step_from_dict(data: Mapping[str, Any]) -> Step:
    cls = STEP_KINDS[str(data["kind"])]
    return cls(**{f.name: str(data[f.name]) for f in fields(cls) if f.name in data})


def _placeholder(step: Step) -> str:
    values = [v for v in asdict(step).values() if v]
    return "<" + " ".join([step.kind, *values]) + ">"


def neutral_name(step: Step) -> str:
    """How ``str(exc)`` (logs, tracebacks) names a step: in words where they are the same in every
    front end (a setting, a package), else as a placeholder such as ``<action train.resume /p>``."""
    return step.plain()


# ----- words that name steps ---------------------------------------------------------------------
def verbatim(text: str) -> str:
    """User data put into words that name steps (rare: it belongs in a step-free problem): its
    ``{}`` can then not be taken for a placeholder."""
    return text.replace("{}", "{ }")


@dataclass(frozen=True)
class Words:
    """Plain words with ``{}`` where each of ``steps`` is named, in order. Words without steps are
    shown as they are (user data such as a path may hold braces; with steps it never goes in ``say``)."""

    say: str
    steps: tuple[Step, ...] = ()

    def __init__(self, say: str, *steps: Step) -> None:
        if steps and say.count("{}") != len(steps):
            raise ValueError(f"{say!r} names {say.count('{}')} steps but has {len(steps)}")
        object.__setattr__(self, "say", say)
        object.__setattr__(self, "steps", tuple(steps))

    def text(self, name: Namer = neutral_name) -> str:
        if not self.steps:
            return self.say
        parts = self.say.split("{}")
        out = [parts[0]]
        for step, part in zip(self.steps, parts[1:]):
            out += [name(step), part]
        return "".join(out)

    def prefixed(self, text: str) -> Words:
        """These words after ``text`` ("Undid 2 operations, then stopped: " + the problem)."""
        return Words((verbatim(text) if self.steps else text) + self.say, *self.steps)

    def to_dict(self, name: Namer = neutral_name) -> dict[str, Any]:
        return {"text": self.text(name), "say": self.say, "steps": [step_to_dict(s) for s in self.steps]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | str):
        if isinstance(data, str):
            return cls(data)
        return cls(str(data["say"]), *(step_from_dict(s) for s in data.get("steps", ())))


class Fix(Words):
    """What resolves a problem: ``Fix("continue it with {}, or start over with {}", resume, restart)``."""


@dataclass(frozen=True)
class Notice:
    """A problem and its fix, kept as data where a sentence outlives the process that said it
    (the training's events and run record, a child process's JSON). ``where`` says where the
    problem was read ("project.toml", "--set"), for a sentence shown away from that place."""

    problem: Words
    fix: Fix | None = None
    where: Words | None = None

    def __init__(self, problem: Words | str, fix: Fix | None = None, where: Words | str | None = None) -> None:
        object.__setattr__(self, "problem", Words(problem) if isinstance(problem, str) else problem)
        object.__setattr__(self, "fix", fix)
        object.__setattr__(self, "where", Words(where) if isinstance(where, str) else where)

    def text(self, name: Namer = neutral_name, *, placed: bool = True) -> str:
        """``[where: ]problem; fix.`` — one sentence, the steps named by ``name``; ``placed=False``
        leaves out where (shown beside the setting it is about)."""
        problem = self.problem.text(name)
        if self.problem.steps and self.problem.say.startswith("{}"):  # "the pattern needs…" starts a sentence
            problem = problem[:1].upper() + problem[1:]
        if placed and self.where is not None:
            problem = f"{self.where.text(name)}: {problem}"
        if self.fix is not None:
            problem = f"{problem.rstrip('.')}; {self.fix.text(name)}"
        return problem if problem.endswith((".", "?", "!")) else problem + "."

    def __str__(self) -> str:
        return self.text()

    def to_dict(self, name: Namer = neutral_name) -> dict[str, Any]:
        """``message`` (the sentence), ``problem``, ``fix`` and ``where`` (None when there is none)."""
        return {"message": self.text(name), "problem": self.problem.to_dict(name),
                "fix": self.fix.to_dict(name) if self.fix else None,
                "where": self.where.to_dict(name) if self.where else None}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Notice:
        """Read :meth:`to_dict`'s form; a bare ``message`` (written before fixes were data) stays as it was."""
        if not isinstance(data.get("problem"), (Mapping, str)):
            return cls(str(data.get("message", "")))
        fix, where = data.get("fix"), data.get("where")
        return cls(Words.from_dict(data["problem"]), Fix.from_dict(fix) if isinstance(fix, Mapping) else None,
                   Words.from_dict(where) if isinstance(where, (Mapping, str)) else None)


# ----- the errors --------------------------------------------------------------------------------
class UserError(Exception):
    """A problem the user can fix: ``problem`` in plain words, ``fix`` as data (see the module)."""

    exit_code = 2

    def __init__(self, problem: Words | str, fix: Fix | str | None = None, *, exit_code: int | None = None) -> None:
        self.notice = Notice(problem, Fix(fix) if isinstance(fix, str) else fix)
        super().__init__(self.notice.text())
        if exit_code is not None:
            self.exit_code = exit_code

    @classmethod
    def from_notice(cls, notice: Notice, *, exit_code: int | None = None) -> UserError:
        """The error for a stored sentence (a run's record, a child process's JSON), ``where`` included."""
        error = cls(notice.problem, notice.fix, exit_code=exit_code)
        error.notice = notice
        error.args = (notice.text(),)
        return error

    @property
    def problem(self) -> Words:
        return self.notice.problem

    @property
    def fix(self) -> Fix | None:
        return self.notice.fix

    @property
    def message(self) -> str:
        """The sentence with its steps named neutrally; front ends render :attr:`notice` instead."""
        return self.notice.text()


class ConfigError(UserError):
    """project.toml or an override holds an unknown key or a bad value; ``where`` is which
    ("project.toml", a file's path, or ``Given("override")`` for --set)."""

    def __init__(self, problem: Words | str, fix: Fix | str | None = None, *, where: Words | Given | str | None = None,
                 exit_code: int | None = None) -> None:
        super().__init__(problem, fix, exit_code=exit_code)
        if where is not None:
            self.notice = Notice(self.notice.problem, self.notice.fix,
                                 Words("{}", where) if isinstance(where, Given) else where)
            self.args = (self.notice.text(),)


class ProjectError(UserError):
    """The project folder is missing, unreadable, or not a project."""


class OperationFailed(UserError):
    """Work that started but could not finish (training diverged, download failed)."""

    exit_code = 1


# Conditions a caller acts on (offers another action, stops a loop, focuses a field).
class UndoConflict(UserError):
    """Files changed after the operation being undone; undoing anyway loses those edits."""

    def __init__(self, problem: Words | str, fix: Fix | str | None = None, *, files: tuple[str, ...] = (), op: str = "",
                 exit_code: int | None = None) -> None:
        super().__init__(problem, fix, exit_code=exit_code)
        self.files, self.op = files, op


class NothingToUndo(UserError):
    """No caption operation of the project has a snapshot left."""


class JobRunning(UserError):
    """A training of the project is already running (``pid``)."""

    def __init__(self, problem: Words | str, fix: Fix | str | None = None, *, pid: int = 0,
                 exit_code: int | None = None) -> None:
        super().__init__(problem, fix, exit_code=exit_code)
        self.pid = pid


class ModelNotCached(UserError):
    """A Hugging Face model is not in the local cache and the hub cannot be reached."""
