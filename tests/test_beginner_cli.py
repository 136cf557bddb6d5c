"""The beginner's path on the command line (issue 13): honest exit codes for `status` and `steps`, one
stop-save file per run listed as "stopped at step N", `export` into a UI's LoRA folder with the prompt
snippet, a warning when captions change under a running training, each fact said once, third-party
noise kept out, what the demo needs installed by the README's first command."""

import ast
import hashlib
import io
import json
import os
import subprocess
import sys
import threading
import tomllib
from pathlib import Path

import pytest

from conftest import REPO, cli_env
from tui_lora.core.events import EventWriter
from tui_lora.core.project import Project
from tui_lora.core.train.record import RunRecord, write_record
from wizard_support import job_lock, write_finished_run


def cli(*args, env=None, cwd=None, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tui_lora", *map(str, args)], capture_output=True, text=True,
                          env=env or cli_env(), cwd=cwd, timeout=timeout)


@pytest.fixture
def project(tmp_path):
    from tui_lora.demo.datasets import write_dataset

    p = Project.create(tmp_path / "mia", preset="sd15-anime-character",
                       base_model="stable-diffusion-v1-5/stable-diffusion-v1-5", trigger="miaxyz")
    write_dataset(p.concepts()[0].path, 4, size=(64, 64), trigger="miaxyz")
    return p


# ----- 12: exit codes ---------------------------------------------------------------------------------
def test_status_exit_codes_say_the_state(project):
    r = cli("status", project.root)
    assert r.returncode == 4 and "never run" in r.stdout  # none

    write_finished_run(project)
    r = cli("status", project.root, "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["state"] == "finished"

    write_record(project, RunRecord(status="failed", message="Training diverged at step 3; lower the rate."))
    project.events_path.write_text(json.dumps({"event": "start", "time": 1.0, "total_steps": 9, "epochs": 3,
                                               "steps_per_epoch": 3, "images": 4, "device": "cpu"}) + "\n")
    EventWriter(project.events_path).emit("error", message="Training diverged at step 3; lower the rate.")
    r = cli("status", project.root)
    assert r.returncode == 1 and r.stdout.count("Training diverged at step 3") == 1  # failed

    write_record(project, RunRecord(status="stopped", message="Training stopped at step 2 of 9.", step=2))
    r = cli("status", project.root)
    assert r.returncode == 3 and "stopped" in r.stdout  # stopped

    with job_lock(project):
        r = cli("status", project.root, "--json")
    assert r.returncode == 5 and json.loads(r.stdout)["state"] == "running"  # running


def test_steps_on_an_empty_dataset_exits_2(tmp_path):
    p = Project.create(tmp_path / "empty", preset="sd15-anime-character",
                       base_model="stable-diffusion-v1-5/stable-diffusion-v1-5")
    r = cli("steps", p.root)
    assert r.returncode == 2 and "error: The dataset has no images" in r.stdout
    assert cli("steps", "--images", "20", "--repeats", "5").returncode == 0


def test_the_readme_documents_every_exit_code():
    from tui_lora.commands.status import EXIT_CODES

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("### Exit codes"):readme.index("## Use the LoRA")]
    for code in {*EXIT_CODES.values(), 2, 130}:
        assert f"\n| {code} |" in table, code


# ----- 13: stop-saves --------------------------------------------------------------------------------
@pytest.mark.slow
def test_only_the_newest_stop_save_is_kept_and_listed_as_such(tmp_path, tiny_sd15):
    from support.train import make_train_project, torch_threads
    from tui_lora.core.train.run import train_project

    p = make_train_project(tmp_path / "p", tiny_sd15, images=2, settings={
        "training.train_batch_size": 1, "training.max_train_epochs": 3, "output.save_precision": "float"})

    def train(stop_at, **kw):
        cancel = threading.Event()

        def on_event(ev):
            if ev["event"] == "step" and ev["step"] == stop_at:
                cancel.set()

        return train_project(p, stream=io.StringIO(), cancel=cancel, on_event=on_event, **kw)

    with torch_threads(1):
        assert train(1).stopped
        first = p.output_dir / f"{p.output_name}-step00000001.safetensors"
        assert first.is_file()
        assert train(3, resume=True).stopped  # a later stop of the same run
    second = p.output_dir / f"{p.output_name}-step00000003.safetensors"
    assert second.is_file() and not first.exists()  # superseded
    assert sorted(f.name for f in p.output_dir.glob("*.safetensors")) == [
        f"{p.output_name}-000001.safetensors", second.name]

    r = cli("status", p.root)
    assert r.returncode == 3
    saved = next(line for line in r.stdout.splitlines() if line.startswith("saved: "))
    assert f"{second} (stopped at step 3)" in saved and str(first) not in saved
    assert r.stdout.count("Training stopped at step 3") == 1


# ----- 14: export -------------------------------------------------------------------------------------
def fake_lora(path: Path, *, best_weight: str | None = None, payload: bytes = b"\0" * 8) -> Path:
    """A small real safetensors file (optionally with the weight a comparison picked)."""
    meta = {"ss_network_dim": "4"} | ({"ss_tui_lora_best_weight": best_weight} if best_weight else {})
    header = json.dumps({"__metadata__": meta, "w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})
    raw = header.encode() + b" " * (-len(header) % 8)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(len(raw).to_bytes(8, "little") + raw + payload)
    return path


def comfy_install(folder: Path) -> Path:
    (folder / "comfy").mkdir(parents=True)
    (folder / "main.py").write_text("# ComfyUI\n")
    return folder


def test_export_into_comfyui_found_by_its_variable(project, tmp_path):
    final = fake_lora(project.final_file())
    comfy = comfy_install(tmp_path / "apps" / "ComfyUI")
    env = {**cli_env(), "COMFYUI_PATH": str(comfy)}
    r = cli("export", project.root, "--to", "comfyui", env=env)
    assert r.returncode == 0, r.stderr
    target = comfy / "models" / "loras" / final.name
    assert target.read_bytes() == final.read_bytes()
    assert "<lora:mia:0.8>, miaxyz" in r.stdout and "LoraLoader" in r.stdout and "ComfyUI" in r.stdout
    assert not [p for p in target.parent.iterdir() if p.name.startswith(".")]  # no temporary file left

    again = cli("export", project.root, "--to", "comfyui", "--json", env=env)
    assert again.returncode == 0 and json.loads(again.stdout)["copied"] is False  # the same file: left alone


def test_export_finds_a1111_in_the_usual_places_and_says_where_it_looked(project, tmp_path):
    fake_lora(project.final_file())
    best = fake_lora(project.output_dir / "mia-best.safetensors", best_weight="0.6", payload=b"\1" * 8)
    box = tmp_path / "box"
    env = {k: v for k, v in cli_env().items() if not k.endswith(("_PATH", "_DIR", "_HOME")) or k == "PYTHONPATH"}
    env["HOME"] = str(tmp_path / "home")
    env["TUI_LORA_UI_ROOTS"] = os.pathsep.join([str(box / "workspace"), str(box / "opt")])
    r = cli("export", project.root, "--to", "a1111", env=env, cwd=tmp_path)
    assert r.returncode == 2 and "No AUTOMATIC1111 install was found" in r.stderr
    assert str(box / "workspace") in r.stderr and str(box / "opt") in r.stderr and "A1111_PATH" in r.stderr

    webui = box / "opt" / "stable-diffusion-webui"
    webui.mkdir(parents=True)
    (webui / "webui.py").write_text("# A1111\n")
    r = cli("export", project.root, "--to", "a1111", env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (webui / "models" / "Lora" / best.name).read_bytes() == best.read_bytes()  # the winner by default
    assert "<lora:mia-best:0.6>, miaxyz" in r.stdout  # the weight the comparison picked


def test_export_never_replaces_a_different_file_without_force(project, tmp_path):
    fake_lora(project.epoch_file(1))
    final = fake_lora(project.final_file(), payload=b"\2" * 8)
    dest = tmp_path / "loras"
    other = fake_lora(dest / final.name, payload=b"\3" * 8)
    before = hashlib.sha256(other.read_bytes()).hexdigest()
    r = cli("export", project.root, "--to", dest)
    assert r.returncode == 2 and "already exists and is a different file" in r.stderr and "--force" in r.stderr
    assert hashlib.sha256(other.read_bytes()).hexdigest() == before
    r = cli("export", project.root, "--to", dest, "--force")
    assert r.returncode == 0 and other.read_bytes() == final.read_bytes()

    r = cli("export", project.root, "--epoch", "1", "--to", dest / "mine.safetensors")
    assert r.returncode == 0 and (dest / "mine.safetensors").read_bytes() == project.epoch_file(1).read_bytes()
    assert "<lora:mine:0.8>" in r.stdout
    assert cli("export", project.root, "--best", "--to", dest).returncode == 2  # no winner kept yet
    assert "not an epoch number" in cli("export", project.root, "--epoch", "two", "--to", dest).stderr


def test_export_without_any_lora_says_to_train_first(project, tmp_path):
    r = cli("export", project.root, "--to", tmp_path / "x")
    assert r.returncode == 2 and "has no LoRA file" in r.stderr and "train it first" in r.stderr


# ----- 10: captions edited while a training runs --------------------------------------------------------
def test_tags_warns_when_a_training_of_the_project_runs(project):
    with job_lock(project):
        r = cli("tags", project.root, "--remove", "red hair")
        assert r.returncode == 0
        assert r.stderr.count("warning: A training of this project is running") == 1
        assert "count from the next run" in r.stderr
        assert cli("tags", project.root).stderr == ""  # only reading: nothing to warn about
    assert "training of this project is running" not in cli("tags", project.root, "--undo").stderr


# ----- 5: each fact once, plurals, no third-party noise -------------------------------------------------
def test_a_stop_message_is_printed_once_and_plurals_are_right(tmp_path, project):
    from tui_lora.core.train.progress import Reporter

    out, log = io.StringIO(), io.StringIO()
    reporter = Reporter(EventWriter(tmp_path / "events.jsonl"), stream=out, log=log)
    reporter.warning("Training stopped at step 2 of 9.", echo=False)
    assert out.getvalue() == "" and log.getvalue() == "Training stopped at step 2 of 9.\n"

    r = cli("tags", project.root, "--remove", "miaxyz_not_there")
    assert "changed 0 captions" in r.stdout
    one = project.concepts()[0].images()[0].with_suffix(".txt")
    one.write_text(one.read_text() + ", lonely tag")
    r = cli("tags", project.root, "--remove", "lonely tag")
    assert "changed 1 caption." in r.stdout and "caption(s)" not in r.stdout


def test_bitsandbytes_cpu_kernel_noise_never_reaches_the_terminal():
    # bitsandbytes logs this when imported on a CPU with AVX512-BF16 and no hub access (this one may lack
    # the instruction set, so the message is logged through its own logger, as bitsandbytes does).
    code = ("from tui_lora.core.train.device import quiet_libraries\n"
            "quiet_libraries()\n"
            "import bitsandbytes, logging\n"
            "logging.getLogger('bitsandbytes.backends.cpu.ops').warning('Failed to load CPU gemm_4bit_forward "
            "from kernels-community: offline. Please make sure you already `pip install kernels`')\n"
            "logging.getLogger('tui_lora.check').warning('ours still shows')\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=cli_env(), timeout=300)
    assert r.returncode == 0, r.stderr
    assert "gemm_4bit" not in r.stderr and "pip install kernels" not in r.stderr
    assert "ours still shows" in r.stderr  # only their loggers are quiet, not logging as a whole


# ----- 1: the README's first command installs what the demo needs --------------------------------------
def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_the_demo_needs_only_the_main_dependencies():
    """`pip install -e .` (the README's wizard command) must install every package `tui-lora demo` imports:
    its own modules and the trainer and tagger it runs (onnx was once only in [dev])."""
    from importlib.metadata import packages_distributions

    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    main = {d.split(">")[0].split("<")[0].split("=")[0].split("[")[0].strip().lower().replace("_", "-")
            for d in pyproject["project"]["dependencies"]}
    files = [*(REPO / "tui_lora" / "demo").glob("*.py"), *(REPO / "tui_lora" / "core" / "tagging").glob("*.py"),
             *(REPO / "tui_lora" / "core" / "train").glob("*.py")]
    dists = packages_distributions()
    std = set(sys.stdlib_module_names)
    missing = {}
    for f in files:
        for name in _imports(f) - std - {"tui_lora"}:
            wanted = {d.lower().replace("_", "-") for d in dists.get(name, [name])}
            if not wanted & main:
                missing[name] = f.name
    assert not missing, f"imported by the demo's code but not in [project] dependencies: {missing}"
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    first = readme[readme.index("## Quick start"):readme.index("tui-lora demo")]
    assert "pip install -e . " in first and "[dev]" not in first
