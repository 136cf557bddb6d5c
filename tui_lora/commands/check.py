"""tui-lora check — validate images: corrupt, tiny, extreme aspect, alpha"""

from __future__ import annotations

import argparse

from tui_lora.commands._common import add_project_arg, emit, load_project
from tui_lora.commands._progress import progress_line

HELP = "validate images: corrupt, tiny, extreme aspect, alpha"
DESCRIPTION = (
    "Check every image and caption in the project's dataset/ for what breaks or weakens training: "
    "corrupt, empty or non-image files, decompression bombs, images smaller than the model's "
    "resolution, aspect ratios beyond 3:1, transparency, animation, odd colour modes, EXIF rotation, "
    "missing, empty or non-UTF-8 captions, captions without images and clashing names. With --fix, "
    "repairs what it can and moves unreadable files to dataset/.trash/ (undo with `tui-lora restore`). "
    "Exits 1 when problems that stop training remain."
)
SHOW_PER_KIND = 10


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_project_arg(p)
    p.add_argument("--fix", action="store_true",
                   help="fix what can be fixed; originals go to dataset/.trash/ first")
    p.add_argument("--all", action="store_true", help="list every file of each kind (default: the first 10)")
    p.add_argument("--thumbnails", action="store_true",
                   help="also make the review thumbnails in .cache/thumbs from the same pass")


def run(args: argparse.Namespace) -> int:
    from tui_lora.core.dataset.fix import fix_records
    from tui_lora.core.dataset.scan import scan

    project = load_project(args)
    with progress_line(args, "Checking images") as cb:
        report = scan(project, progress=cb, thumbnails=args.thumbnails)
    fix_report = None
    before = report
    if args.fix and any(r.fixable for r in report.records):
        ext = project.settings["dataset"]["caption_extension"] or ".txt"
        with progress_line(args, "Fixing") as cb:
            fix_report = fix_records(project.dataset_dir, report.records, caption_extension=ext, progress=cb)
        with progress_line(args, "Checking again") as cb:
            report = scan(project, progress=cb, thumbnails=args.thumbnails)

    data = report.to_dict()
    data["fix"] = fix_report.to_dict() if fix_report else None
    if args.fix:
        data["before"] = {"errors": before.errors, "warnings": before.warnings,
                          "counts": {p.value: n for p, n in before.counts().items()}}
    emit(args, data, _lines(report, fix_report, args, project.root))
    return 1 if report.errors else 0


def _lines(report, fix_report, args, root) -> list[str]:
    from tui_lora.core.dataset.checks import Problem, Severity

    lines = []
    n_img = len(report.images)
    concepts = len({r.concept for r in report.images if r.concept})
    how = f"{report.decoded} decoded, {report.cached + report.rehashed} known from the last check"
    lines.append(f"Checked {n_img} image{'s' if n_img != 1 else ''} in {concepts} concept folder"
                 f"{'s' if concepts != 1 else ''} in {report.seconds:.1f} s ({how}).")
    if fix_report is not None:
        fixed = fix_report.count("fixed") + fix_report.count("converted")
        lines.append(f"Fixed {fixed} file{'s' if fixed != 1 else ''}, moved {fix_report.count('trashed')} to "
                     f"dataset/.trash/; undo any of it with `tui-lora restore {args.dir}`.")
        for r in fix_report.results:
            if r.action == "skipped":
                lines.append(f"  not fixed: {r.path.name}: {r.message}")
    for folder in report.stray_folders:
        lines.append(f"Folder dataset/{folder.name}/ is not named <repeats>_<name> (e.g. 10_{folder.name}); "
                     "training ignores it.")
    counts = report.counts()
    if not counts:
        lines.append("No problems found.")
        return lines
    for severity, heading in ((Severity.ERROR, "Errors (training cannot use these files):"),
                              (Severity.WARNING, "Warnings (training works, but the result suffers):")):
        kinds = [p for p in Problem if p in counts and p.severity is severity]
        if not kinds:
            continue
        lines.append("")
        lines.append(heading)
        for kind in kinds:
            info = kind.info
            recs = [r for r in report.records if r.has(kind)]
            action = f"--fix {info.fix}" if info.fix else info.advice
            lines.append(f"  {info.title} — {len(recs)} file{'s' if len(recs) != 1 else ''} ({action})")
            shown = recs if args.all else recs[:SHOW_PER_KIND]
            for r in shown:
                detail = next((i.detail for i in r.issues if i.code is kind), "")
                lines.append(f"    {r.rel}" + (f": {detail}" if detail else ""))
            if len(shown) < len(recs):
                lines.append(f"    … and {len(recs) - len(shown)} more (--all lists them)")
    fixable = sum(1 for r in report.records if r.fixable)
    lines.append("")
    summary = f"{report.errors} file{'s' if report.errors != 1 else ''} with errors, {report.warnings} with warnings only."
    if fixable and fix_report is None:
        summary += f" {fixable} can be fixed with `tui-lora check {args.dir} --fix`."
    lines.append(summary)
    return lines
