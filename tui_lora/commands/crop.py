"""tui-lora crop — crop images to a fixed aspect for training without buckets"""

from __future__ import annotations

import argparse
import fnmatch

from tui_lora.commands._common import add_project_arg, emit, load_project, positive_int
from tui_lora.commands._progress import progress_line
from tui_lora.core.errors import UserError

HELP = "crop images to a fixed aspect for training without buckets"
DESCRIPTION = (
    "Crop every image in the concept folders (or the NAMES given) to 1:1, 2:3 or 3:2 and resize it "
    "so its short side is --size (default: the project's resolution). --mode center cuts equally "
    "from both sides, focus keeps the most detailed, colourful or skin-toned region, pad letterboxes "
    "onto white without cutting anything. Originals go to dataset/.trash/ (undo with `tui-lora restore`)."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_project_arg(p)
    p.add_argument("names", nargs="*", metavar="NAMES",
                   help="only these images (file names, paths inside dataset/ or globs)")
    p.add_argument("--aspect", choices=("1:1", "2:3", "3:2"), default="1:1", help="width:height (default 1:1)")
    p.add_argument("--size", type=positive_int, default=None, metavar="PX",
                   help="short side of the result in pixels (default: dataset.resolution)")
    p.add_argument("--mode", choices=("center", "focus", "pad"), default="center",
                   help="where to cut (default center)")
    p.add_argument("--no-upscale", action="store_true", help="leave images smaller than --size at their size")
    p.add_argument("--dry-run", action="store_true", help="only show what would be cut")


def run(args: argparse.Namespace) -> int:
    from tui_lora.core.dataset.crop import crop_images
    from tui_lora.core.dataset.folders import list_images

    project = load_project(args)
    images = [p for c in project.concepts() for p in list_images(c.path)]
    if args.names:
        ds = project.dataset_dir
        chosen = []
        for pat in args.names:
            pat = pat.replace("\\", "/").strip("/")
            hits = [p for p in images if fnmatch.fnmatchcase(p.relative_to(ds).as_posix(), pat)
                    or fnmatch.fnmatchcase(p.name, pat)]
            if not hits:
                raise UserError(f"No image in the concept folders matches {pat!r}; give a file name, a path "
                                "inside dataset/ such as 10_mia/1.png, or a glob.")
            chosen += [h for h in hits if h not in chosen]
        images = chosen
    with progress_line(args, "Cropping") as cb:
        report = crop_images(project, images, aspect=args.aspect, size=args.size, mode=args.mode,
                             upscale=not args.no_upscale, dry_run=args.dry_run, progress=cb)
    emit(args, report.to_dict(), _lines(report, args, project.dataset_dir))
    return 0


def _lines(report, args, ds) -> list[str]:
    w, h = report.size
    lines = []
    for r in report.results:
        name = r.path.relative_to(ds).as_posix()
        if r.action in ("cropped", "planned"):
            up = " (upscaled)" if r.upscaled else ""
            sw, sh = r.source_size
            lines.append(f"  {name}: {sw}×{sh} → box {r.box} → {r.size[0]}×{r.size[1]}{up}")
        elif r.action == "skipped":
            lines.append(f"  {name}: skipped, {r.message}")
    done = report.count("planned" if report.dry_run else "cropped")
    verb = "Would crop" if report.dry_run else "Cropped"
    tail = "" if report.dry_run else f"; originals are in dataset/.trash/ (`tui-lora restore {args.dir} --all` undoes it)"
    lines.append(f"{verb} {done} image{'s' if done != 1 else ''} to {report.aspect} ({w}×{h}, {report.mode})"
                 f"{tail}; {report.count('unchanged')} already that size, {report.count('skipped')} skipped.")
    up = sum(1 for r in report.results if r.upscaled)
    if up:
        lines.append(f"{up} image{'s were' if up != 1 else ' was'} smaller than {w}×{h} and got upscaled; "
                     "they may look soft (--no-upscale keeps them at their size).")
    return lines
