"""tui-lora dedupe — find near-duplicate images (dry run unless --apply)"""

from __future__ import annotations

import argparse

from tui_lora.commands._common import add_project_arg, emit, load_project, positive_float
from tui_lora.commands._progress import progress_line
from tui_lora.core.humanize import file_size as human_size

HELP = "find near-duplicate images (dry run unless --apply)"
DESCRIPTION = (
    "Group exact and near-duplicate images (resized, recompressed, slightly cropped or mirrored "
    "copies) and suggest one keeper per group: the highest resolution, then the largest file. "
    "Without --apply it only reports; with --apply every other image in a group moves to "
    "dataset/.trash/ with its caption (undo with `tui-lora restore`)."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_project_arg(p)
    p.add_argument("--threshold", type=positive_float, default=None, metavar="T",
                   help="how different two images may be and still count as copies; lower is stricter. "
                        "hash: differing bits of 144 (default 16; copies score 0-12, different "
                        "pictures 25+). clip: 100 x (1 - cosine similarity) (default 5)")
    p.add_argument("--apply", action="store_true", help="move every image but the keeper to dataset/.trash/")
    p.add_argument("--backend", choices=("hash", "clip"), default="hash",
                   help="hash: perceptual hashes, offline, the default; clip: image embeddings from a "
                        "CLIP model already on disk")
    p.add_argument("--clip-model", metavar="REF", default=None,
                   help="CLIP model folder or Hugging Face repo id already in the local cache "
                        "(default openai/clip-vit-base-patch32)")


def run(args: argparse.Namespace) -> int:
    from tui_lora.core.dataset.dedupe import find_duplicates, get_backend, trash_duplicates
    from tui_lora.core.dataset.scan import scan

    project = load_project(args)
    options = {"model": args.clip_model} if args.backend == "clip" else {}
    backend = get_backend(args.backend, **options)
    why = backend.unavailable()
    if why is not None:
        raise why
    with progress_line(args, "Reading images") as cb:
        scanned = scan(project, progress=cb)
    with progress_line(args, "Comparing") as cb:
        report = find_duplicates(project, threshold=args.threshold, backend=backend, scan_report=scanned, progress=cb)
    entries = trash_duplicates(project, report.groups) if args.apply else []
    data = report.to_dict()
    data["applied"] = bool(args.apply)
    data["trash_ids"] = [e.id for e in entries]
    emit(args, data, _lines(report, args, len(entries)))
    return 0


def _lines(report, args, moved: int) -> list[str]:
    lines = []
    for n, g in enumerate(report.groups, 1):
        k = g.keeper.record
        if g.keeper.is_reference:
            lines.append(f"Group {n} ({len(g.others) + 1} images): keep {k.rel} ({k.width}×{k.height}, "
                         f"{human_size(k.size_bytes)})")
        else:  # the keeper is a better copy of the image the others were matched against
            lines.append(f"Group {n} ({len(g.others) + 1} images, each within the threshold of "
                         f"{g.reference.name}): keep {k.rel} ({k.width}×{k.height}, {human_size(k.size_bytes)}, "
                         f"distance {g.keeper.distance:g})")
        for m in g.others:
            r = m.record
            how = ("exact copy of the keeper" if m.exact else "the image the others match" if m.is_reference
                   else f"distance {m.distance:g}")
            lines.append(f"    {r.rel} ({r.width}×{r.height}, {human_size(r.size_bytes)}): {how}")
    total = len(report.removable)
    unread = f" {report.unreadable} images that do not decode or are links were left out (see `tui-lora check`)." \
        if report.unreadable else ""
    if not report.groups:
        lines.append(f"No duplicates among {report.compared} images (backend {report.backend}, "
                     f"threshold {report.threshold:g}).{unread}")
    elif args.apply:
        lines.append(f"Moved {moved} image{'s' if moved != 1 else ''} from {len(report.groups)} group"
                     f"{'s' if len(report.groups) != 1 else ''} to dataset/.trash/; bring any back with "
                     f"`tui-lora restore {args.dir} NAME`.{unread}")
    else:
        lines.append(f"Found {len(report.groups)} group{'s' if len(report.groups) != 1 else ''} among "
                     f"{report.compared} images; {total} image{'s' if total != 1 else ''} would move to "
                     f"dataset/.trash/. Run with --apply to move them (restorable).{unread}")
    return lines
