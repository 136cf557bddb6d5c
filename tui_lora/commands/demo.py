"""tui-lora demo [DIR] — build a demo project with a tiny model and open the wizard on it"""

from __future__ import annotations

import argparse
import sys

from tui_lora.commands._common import emit
from tui_lora.core.errors import UserError

HELP = "build a DEMO project (tiny model, generated images) and open the wizard on it"
DESCRIPTION = (
    "Build a self-contained DEMO project — generated images with captions and a few bad files, a tiny "
    "random-weights SD1.5 model and a tiny WD14 tagger made locally, settings that train in about a "
    "minute on a CPU — and open the wizard on it, with a local fake booru for the Fetch step. No account, "
    "GPU or internet needed; the LoRA it trains is not useful, it shows the steps. Without DIR it lives in "
    "your data folder; running it again reopens the same demo (--reset rebuilds it)."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", nargs="?", metavar="DIR",
                   help="where to put the demo (default: the demo folder in your user data folder)")
    p.add_argument("--no-open", action="store_true", help="only build the project; do not open the wizard")
    p.add_argument("--reset", action="store_true", help="rebuild the demo from scratch if it exists")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from tui_lora.demo import project as demo

    if args.json and not args.no_open:
        raise UserError("The wizard is interactive and has no --json output; add --no-open to only build the demo.")
    if not args.no_open and not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UserError("The wizard needs a terminal; add --no-open to only build the demo in a script.")
    root = Path(args.dir).expanduser() if args.dir else demo.default_dir()
    quiet = bool(args.json)
    project, reused = demo.build_demo(root, reset=args.reset,
                                      progress=None if quiet else lambda text: print(text, file=sys.stderr))
    concept = project.concepts()[0]
    data = {"dir": str(project.root), "demo": True, "reused": reused, "name": project.name,
            "base_model": project.get("model.pretrained_model_name_or_path"),
            "tagger_model": project.get("tags.tagger_model"), "concept": concept.folder,
            "images": len(concept.images())}
    verb = "Reusing the" if reused else "Built the"
    lines = [f"{verb} tui-lora DEMO project in {project.root}",
             f"  {data['images']} images in dataset/{concept.folder}/ (a few are broken on purpose: see Review),",
             "  a tiny random-weights SD1.5 model and a tiny WD14 tagger in models/.",
             "  This is a DEMO: every step works, training takes about a minute on a CPU, and the LoRA it "
             "makes is not useful."]
    if args.no_open:
        lines += [f"Open it with: tui-lora demo {project.root}   (or tui-lora open {project.root})",
                  f"Train it headless with: tui-lora train {project.root}"]
        emit(args, data, lines)
        return 0
    emit(args, data, lines)
    from tui_lora.tui.common import images

    images.start_detection()
    from tui_lora.core.userconfig import remember_project
    from tui_lora.tui.app import run_wizard

    remember_project(project.root)
    return run_wizard(project)
