"""tui-lora tags — tag frequency table and bulk caption edits (undoable)"""

from __future__ import annotations

import argparse
from typing import Any

from tui_lora.commands._common import add_project_arg, csv_list, emit, load_project, positive_int
from tui_lora.core.errors import NothingToUndo, UserError
from tui_lora.core.safepath import printable

HELP = "tag frequency table and bulk caption edits (undoable)"
DESCRIPTION = (
    "Without options: the tag frequency table and caption warnings. Edits apply to every caption of "
    "the dataset in this order: --junk, --remove-pattern, --remove, --replace, --dedupe, --trigger; each is "
    "snapshotted first and is one level of --undo."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_project_arg(p)
    p.add_argument("--top", type=positive_int, metavar="N", help="show the N most frequent tags (default 40)")
    p.add_argument("--remove", metavar="a,b", action="append", help="remove these tags (repeatable)")
    p.add_argument("--replace", metavar="a,b=c", action="append",
                   help='merge tags a and b into c, e.g. "vertical stripes,striped shirt=striped shirt" (repeatable)')
    p.add_argument("--trigger", metavar="WORD", help="put WORD first in every caption and make it the trigger word")
    p.add_argument("--junk", action="store_true", help="remove the junk tags of tags.junk_tags (absurdres, …)")
    p.add_argument("--remove-pattern", metavar="GLOB", action="append",
                   help='remove tags matching a glob, e.g. "* (azur lane)" (repeatable)')
    p.add_argument("--dedupe", action="store_true",
                   help="drop repeated tags in each caption; rewrite BOM / odd-whitespace captions cleanly")
    p.add_argument("--find", metavar="TAG", help="list the images whose caption has TAG (globs allowed)")
    p.add_argument("--history", action="store_true", help="list past caption operations")
    p.add_argument("--undo", nargs="?", const=1, type=positive_int, metavar="N",
                   help="undo the last caption operation (or the last N)")
    p.add_argument("--force", action="store_true", help="with --undo: restore even captions edited since")
    p.add_argument("--dry-run", action="store_true", help="show what the edits would change without writing")


def run(args: argparse.Namespace) -> int:
    project = load_project(args)
    edits = _planned_edits(args)
    modes = [name for name, on in (("--undo", args.undo), ("--history", args.history), ("--find", args.find),
                                   ("an edit", edits)) if on]
    if len(modes) > 1:
        raise UserError(f"{' and '.join(modes)} cannot be combined; run them one at a time.")
    if args.undo:
        return _undo(args, project)
    if args.history:
        return _history(args, project)
    if args.find:
        return _find(args, project)
    ops = [fn(project) for fn in edits]
    return _table(args, project, ops)


def _planned_edits(args: argparse.Namespace) -> list:
    from tui_lora.core.dataset import tagops

    dry = args.dry_run
    plan = []
    if args.junk:
        plan.append(lambda p: tagops.remove_junk(p, dry_run=dry))
    if args.remove_pattern:
        plan.append(lambda p: tagops.remove_pattern(p, args.remove_pattern, dry_run=dry))
    if args.remove:
        tags = [t for text in args.remove for t in csv_list(text)]
        if not tags:
            raise UserError("--remove needs tags, e.g. --remove \"blue eyes,blonde hair\".")
        plan.append(lambda p: tagops.remove_tags(p, tags, dry_run=dry))
    for text in args.replace or []:
        sources, target = tagops.parse_replace(text)
        plan.append(lambda p, s=sources, t=target: tagops.replace_tags(p, s, t, dry_run=dry))
    if args.dedupe:
        plan.append(lambda p: tagops.dedupe(p, dry_run=dry))
    if args.trigger is not None:
        plan.append(lambda p: tagops.set_trigger(p, args.trigger, dry_run=dry))
    return plan


def _describe(op, root) -> list[str]:
    verb = "would change" if op.dry_run else "changed"
    head = f"{op.op}: {verb} {op.files_changed} caption(s)"
    if op.settings:
        head += "; set " + ", ".join(f"{k} = {v!r}" for k, v in op.settings.items())
    lines = [head + "."]
    for c in op.changes[:5]:
        bits = []
        if c.removed:
            bits.append("-" + ", -".join(map(printable, c.removed)))
        if c.added:
            bits.append("+" + ", +".join(map(printable, c.added)))
        lines.append(f"  {c.path.relative_to(root)}: {'; '.join(bits) or 'cleaned'}")
    if len(op.changes) > 5:
        lines.append(f"  … and {len(op.changes) - 5} more")
    for path, reason in op.skipped:
        lines.append(f"  skipped {path.relative_to(root)}: {reason}")
    return lines


def _table(args: argparse.Namespace, project, ops: list) -> int:
    from tui_lora.core.dataset import tagops

    entries = tagops.load_captions(project)
    table = tagops.frequency_table(project, top=args.top, entries=entries)
    tokens = tagops.token_report(project, entries)
    data: dict[str, Any] = {"operations": [op.to_dict(project.root) for op in ops],
                            **table.to_dict(project.root), "tokens": tokens.to_dict(project.root)}
    lines: list[str] = []
    for op in ops:
        lines += _describe(op, project.root)
    if any(op.history_id for op in ops):
        lines.append(f"Undo with `tui-lora tags {args.dir} --undo`.")
    if ops:
        lines.append("")
    shown = table.rows[: args.top or 40]
    lines.append(f"{table.images} images, {table.captioned} captioned, {table.unique_tags} distinct tags"
                 + (f"; top {len(shown)}:" if shown else "."))
    width = max((len(printable(r.tag)) for r in shown), default=3)  # a caption's control characters stay out
    lines += [f"  {printable(r.tag):<{width}}  {r.images:>5}  {r.percent:5.1f}%" for r in shown]
    uncaptioned = table.images - table.captioned - len(table.unreadable)
    if uncaptioned:
        lines.append(f"note: {uncaptioned} images have no caption; run `tui-lora tag {args.dir} --mode missing`.")
    if table.trigger and table.without_trigger_first:
        lines.append(f"note: {table.without_trigger_first} captions do not start with the trigger word "
                     f"{table.trigger!r}; run `tui-lora tags {args.dir} --trigger {table.trigger}`.")
    if table.needs_cleaning:
        lines.append(f"note: {table.needs_cleaning} captions have duplicates, a BOM or odd whitespace; "
                     f"run `tui-lora tags {args.dir} --dedupe`.")
    for path, reason in table.unreadable:
        lines.append(f"warning: {path.relative_to(project.root)} {reason}.")
    if tokens.warning:
        lines.append("warning: " + tokens.warning)
    emit(args, data, lines)
    return 0


def _undo(args: argparse.Namespace, project) -> int:
    from tui_lora.core.dataset import tagops

    done = []
    for _ in range(args.undo):
        try:
            done.append(tagops.undo(project, force=args.force))
        except NothingToUndo:
            if done:
                break
            raise
        except UserError as exc:
            if done:  # report what was undone before the failure, then fail
                raise UserError(exc.problem.prefixed(f"Undid {len(done)} operation(s), then stopped: "), exc.fix,
                                exit_code=exc.exit_code) from None
            raise
    lines = [f"Undid {r.op} (#{r.id}): restored {len(r.restored)} file(s)"
             + (f", removed {len(r.removed)} it had created" if r.removed else "")
             + (" (project.toml included)" if r.settings_restored else "") + "." for r in done]
    if len(done) < args.undo:
        lines.append(f"Nothing older to undo ({len(done)} of {args.undo} done).")
    emit(args, {"undone": [r.to_dict() for r in done]}, lines)
    return 0


def _history(args: argparse.Namespace, project) -> int:
    import time

    from tui_lora.core.dataset import tagops

    entries = tagops.history(project)
    lines = [f"  #{h.id:<4} {time.strftime('%Y-%m-%d %H:%M', time.localtime(h.time))}  {h.op:<14} "
             f"{h.files:>5} file(s)  {'undone' if h.undone else 'undoable' if h.undoable else 'expired'}"
             for h in entries] or ["No caption operations yet."]
    emit(args, {"history": [h.to_dict() for h in entries]}, lines)
    return 0


def _find(args: argparse.Namespace, project) -> int:
    from tui_lora.core.dataset import tagops

    found = tagops.find_images(project, args.find)
    root = project.root
    data = {"query": args.find, "count": len(found),
            "images": [{"image": f.image.relative_to(root).as_posix(), "caption": f.caption.relative_to(root).as_posix(),
                        "matched": f.matched, "tags": f.tags} for f in found]}
    lines = [f"{len(found)} image(s) with {args.find!r}:"] + [
        f"  {f.image.relative_to(root)}: {printable(', '.join(f.matched))}" for f in found]
    emit(args, data, lines)
    return 0
