"""tui-lora restore — bring images back from dataset/.trash"""

from __future__ import annotations

import argparse
import sys
import time

from tui_lora.commands._common import add_project_arg, emit, load_project
from tui_lora.commands._fixes import say
from tui_lora.core.errors import UserError
from tui_lora.core.safepath import shown

HELP = "bring images back from dataset/.trash"
DESCRIPTION = (
    "Bring trashed images (and their captions) back to the folder they came from, undoing "
    "`check --fix`, `dedupe --apply` and `crop`. Without NAMES or --all, lists what is in the trash. "
    "NAMES are file names, paths inside dataset/, trash ids, or globs such as '10_mia/*.png'."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_project_arg(p)
    p.add_argument("names", nargs="*", metavar="NAMES", help="what to restore (file name, path, trash id or glob)")
    p.add_argument("--all", action="store_true", help="restore everything in the trash")


def run(args: argparse.Namespace) -> int:
    from tui_lora.core.dataset.trash import list_trash, match_entries, restore_entries

    project = load_project(args)
    entries = list_trash(project)
    if not args.names and not args.all:
        data = {"trash": [e.to_dict() for e in entries], "restored": []}
        emit(args, data, _list_lines(entries, args))
        return 0
    if args.all:
        chosen = entries
    else:
        chosen, unmatched = match_entries(entries, args.names)
        if unmatched:
            raise UserError(f"Nothing in the trash matches {', '.join(repr(u) for u in unmatched)}; "
                            f"run `tui-lora restore {args.dir}` to list what is there.")
    results = restore_entries(project.dataset_dir, chosen)
    refusals = [say(r.refusal) for r in results if r.refusal is not None]
    lines = []
    for r in results:
        if r.refused:
            continue
        where = ", ".join(p.relative_to(project.dataset_dir).as_posix() for p in r.restored)
        note = " (under a new name: another file had taken the old one)" if r.renamed else ""
        lines.append(f"Restored {where}{note}")
        if r.missing:
            lines.append(f"  missing from the trash folder, not restored: {', '.join(map(shown, r.missing))}")
        if r.set_aside:
            lines.append(f"  a newer edit stood in the way and is now in the trash: {', '.join(r.set_aside)}")
    if not results:
        lines.append("The trash is empty.")
    data = {"restored": [r.to_dict() for r in results if not r.refused],
            "refused": [r.to_dict() for r in results if r.refused]}
    if refusals:  # the rest is restored; each refused entry is named in its own sentence
        if len(refusals) == 1:
            data["error"] = refusals[0]
        else:
            lines += refusals
            data["error"] = (f"{len(refusals)} trash entries were not restored because their manifests point "
                             "outside the trash or the dataset (each is named above); delete those folders from "
                             "dataset/.trash/ unless you trust where the project came from.")
    emit(args, data, lines)
    if refusals and not args.json:
        print(f"error: {data['error']}", file=sys.stderr)
    return 2 if refusals else 0


def _list_lines(entries, args) -> list[str]:
    if not entries:
        return ["The trash is empty."]
    lines = [f"{len(entries)} item{'s' if len(entries) != 1 else ''} in dataset/.trash/ (newest first):"]
    for e in entries:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(e.time))
        extra = f" + {len(e.files) - 1} caption" if len(e.files) > 1 else ""
        lines.append(f"  {shown(e.id)}  {when}  {shown(e.reason):<22} {shown(e.original)}{extra}")
    lines.append(f"Restore with `tui-lora restore {args.dir} NAME` (a file name, path, id or glob) or --all.")
    return lines
