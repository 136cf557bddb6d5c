"""The demo project behind ``tui-lora demo``: everything a newcomer needs to walk every step of
the wizard on a laptop CPU, with no account, GPU or internet.

It holds generated images with captions plus the usual troublemakers for Review (a truncated
file, a tiny one, a transparent one, a near-duplicate), a tiny random-weights SD1.5 model and a
tiny WD14 tagger in ``models/`` (built here in seconds), and settings small enough that
``tui-lora train`` finishes in about a minute on a CPU. The LoRA it trains learns nothing useful:
it is there to show the steps, and every label says DEMO.

A marker file, :data:`MARKER`, tells a demo folder apart from real work: only a folder holding
it is ever reused or rebuilt, any other non-empty folder is refused.

Model building imports torch, so :func:`build_demo` runs it in a child process: the wizard that
opens the demo afterwards never loads torch.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from tui_lora.core.childenv import child_env
from tui_lora.core.errors import Fix, OperationFailed, UserError

if TYPE_CHECKING:
    from tui_lora.core.project import Project

MARKER = ".tui-lora-demo.json"
NAME = "tui-lora-demo"
TRIGGER = "tuidemo"
CONCEPT = f"2_{TRIGGER}"
GOOD_IMAGES = 12
VERSION = 1

# Small enough for about a minute of CPU training: 64 px buckets, a rank-4 network, plain fp32
# AdamW, latents cached once; a LoRA file saved every epoch so Train and Compare have epochs to show.
SETTINGS: dict[str, object] = {
    "dataset.resolution": 64,
    "dataset.min_bucket_reso": 64,
    "dataset.max_bucket_reso": 128,
    "dataset.bucket_reso_steps": 64,
    "dataset.cache_latents": True,
    "dataset.cache_latents_to_disk": False,
    "network.network_dim": 4,
    "network.network_alpha": 2.0,
    "training.optimizer_type": "AdamW",
    "training.mixed_precision": "no",
    "training.max_train_epochs": 8,
    "training.train_batch_size": 2,
    "training.max_token_length": 75,
    "training.gradient_checkpointing": False,
    "training.lr_warmup_ratio": 0.0,
    "output.save_every_n_epochs": 1,
    "output.save_precision": "float",
    "sample.prompts": [f"{TRIGGER}, smile, looking at viewer --w 64 --h 64 --s 10 --d 42"],
    "sample.sample_every_n_epochs": 2,
}

Progress = Callable[[str], None]


def default_dir() -> Path:
    """Where ``tui-lora demo`` puts the demo without a DIR: the user's data folder."""
    import platformdirs

    return Path(platformdirs.user_data_dir("tui-lora", appauthor=False)) / "demo"


def is_demo(root: str | os.PathLike[str]) -> bool:
    """True for a folder made by :func:`build_demo` (cheap: one stat; the wizard asks on every open)."""
    return (Path(root) / MARKER).is_file()


def _complete(root: Path) -> bool:
    try:
        return bool(json.loads((root / MARKER).read_text(encoding="utf-8")).get("complete"))
    except (OSError, ValueError, AttributeError):
        return False


def prepare_folder(root: Path, *, reset: bool) -> bool:
    """Check ``root`` may hold the demo; True when a finished demo is already there to reuse."""
    if root.exists() and not root.is_dir():
        raise UserError(f"{root} is a file", Fix("pick a folder for the demo (or none: it makes its own)"))
    if not root.exists() or not any(root.iterdir()):
        return False
    if not is_demo(root):
        raise UserError(f"{root} is not empty and is not a tui-lora demo, so the demo will not touch it",
                        Fix("pick a new folder (or none: the demo makes its own)"))
    if _complete(root) and not reset:
        return True
    shutil.rmtree(root)  # a demo (marker checked above): rebuilt from scratch
    return False


def build_demo(root: str | os.PathLike[str], *, reset: bool = False,
               progress: Progress | None = None) -> tuple["Project", bool]:
    """Build (or reuse) the demo project at ``root``; returns (project, reused)."""
    from tui_lora.core.project import Project

    say = progress or (lambda text: None)
    root = Path(root).expanduser().absolute()
    if prepare_folder(root, reset=reset):
        return Project.load(root), True
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{root.name}.models-", dir=root.parent))
    try:
        say("Building a tiny random-weights SD1.5 model and a tiny WD14 tagger (about 10-20 s)…")
        build_models(staging)
        say("Writing the project: generated images, captions and a few bad files for Review…")
        project = Project.create(root, preset="sd15-anime-character", base_model=str(staging / "tiny-sd15"),
                                 trigger=TRIGGER, name=NAME)
        _write_marker(root, complete=False)
        shutil.move(str(staging), str(root / "models"))
        _fill(project)
        _write_marker(root, complete=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Project.load(root), False


def build_models(folder: Path) -> None:
    """tiny-sd15/ and tiny-wd14/ in ``folder``, built by a child Python (torch stays out of this one)."""
    code = ("import sys; from pathlib import Path\n"
            "from tui_lora.demo.tiny_models import build_tiny_sd15\n"
            "from tui_lora.demo.tiny_tagger import build_tiny_wd14\n"
            "build_tiny_sd15(Path(sys.argv[1]) / 'tiny-sd15')\n"
            "build_tiny_wd14(Path(sys.argv[1]) / 'tiny-wd14')\n")
    env = child_env()
    env.setdefault("HF_HUB_OFFLINE", "1")
    proc = subprocess.run([sys.executable, "-c", code, str(folder)], capture_output=True, text=True, env=env)
    if proc.returncode != 0 or not (folder / "tiny-sd15" / "model_index.json").is_file():
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise OperationFailed(f"Building the demo's tiny model failed ({last})",
                              Fix("check that torch, diffusers and transformers are installed"))


def _fill(project: "Project") -> None:
    from tui_lora.demo.datasets import write_dataset, write_problem_images

    concept = project.concepts()[0].path
    folder = concept.with_name(CONCEPT)
    concept.rename(folder)
    images = write_dataset(folder, GOOD_IMAGES, size=[(128, 128), (96, 128), (128, 96)], seed=3, trigger=TRIGGER)
    write_problem_images(folder, near_copy_of=images[4], trigger=TRIGGER, size=(128, 128))
    models = project.root / "models"
    project.set("model.pretrained_model_name_or_path", str(models / "tiny-sd15"))
    project.set("tags.tagger_model", str(models / "tiny-wd14"))
    for dotted, value in SETTINGS.items():
        project.set(dotted, value)
    project.save()


def _write_marker(root: Path, *, complete: bool) -> None:
    from tui_lora.core.fsutil import atomic_write_text

    atomic_write_text(root / MARKER, json.dumps({"demo": True, "version": VERSION, "complete": complete,
                                                  "created": time.time()}, indent=1))
