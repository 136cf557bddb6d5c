"""`tui-lora compare` end to end (a real subprocess on a tiny model) and its bad inputs: one sentence,
exit 2, no traceback, nothing loaded."""

import json
import subprocess
import sys

import pytest
from PIL import Image
from safetensors import safe_open

from conftest import cli_env
from tui_lora.cli import main
from support.train import make_train_project, torch_threads


@pytest.fixture(scope="module")
def project(tmp_path_factory, tiny_sd15):
    """Two epochs trained for real (one step each), saved as <name>-000001 and the final file."""
    import io

    from tui_lora.core.train.run import train_project

    root = tmp_path_factory.mktemp("cli") / "p"
    p = make_train_project(root, tiny_sd15, images=1, settings={
        "training.max_train_epochs": 2, "output.save_every_n_epochs": 1, "training.unet_lr": 1e-2})
    with torch_threads(1):
        train_project(p, stream=io.StringIO())
    return p


def cli(capsys, *args):
    code = main(["compare", *map(str, args)])
    out = capsys.readouterr()
    return code, out.out, out.err


def one_sentence(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err and lines[0].startswith("error: ") and lines[0].endswith(".")
    return lines[0]


def test_compare_end_to_end_json_then_pick(project, capsys):
    env = cli_env()
    env["OMP_NUM_THREADS"] = "1"  # tiny models: one thread beats threads fighting over shared cores
    out = project.root / "grid.png"
    r = subprocess.run([sys.executable, "-m", "tui_lora", "compare", str(project.root), "--json",
                        "--prompt", "ohwx, smile --n lowres --s 2", "--weights", "0.5,1", "--epochs", "1,final",
                        "--width", "64", "--height", "64", "--seed", "5", "--sampler", "ddim", "--out", str(out),
                        "--device", "cpu"], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    data = json.loads(r.stdout)  # stdout holds only the result; progress went to stderr
    assert "[5/5] epoch 2 (final) at weight 1" in r.stderr and "Traceback" not in r.stderr
    assert data["grid"] == str(out) and data["index"] == str(out.with_suffix(".json")) and not data["cancelled"]
    assert data["plan"]["prompt"] == {"prompt": "ohwx, smile", "negative": "lowres", "width": 64, "height": 64,
                                      "seed": 5, "cfg": 7.5, "steps": 2, "sampler": "ddim"}
    with Image.open(out) as im:
        assert list(im.size) == data["size"]
    index = json.loads(out.with_suffix(".json").read_text())
    assert index["cells"] == data["cells"] and len(index["cells"]) == 6

    code, stdout, _ = cli(capsys, project.root, "--pick", "final", "--weight", "0.9", "--json")
    assert code == 0
    picked = json.loads(stdout)
    assert picked == {"best": str(project.output_dir / f"{project.output_name}-best.safetensors"), "epoch": 2,
                      "weight": 0.9, "source": str(project.final_file())}
    with safe_open(picked["best"], "pt") as fh:
        assert fh.metadata()["ss_tui_lora_best_weight"] == "0.9"
    code, stdout, _ = cli(capsys, project.root, "--pick", "1", "--weight", "1")
    assert code == 0 and stdout.startswith("Kept epoch 1 at weight 1: ")


@pytest.mark.parametrize("args,words", [
    (["--prompt", "x", "--epochs", "3"], "There is no file for epoch 3 in"),
    (["--prompt", "x", "--epochs", "two"], "--epochs two is not a list of epoch numbers"),
    (["--prompt", "x", "--weights", "0.5,abc"], "--weights 0.5,abc is not a list of numbers"),
    (["--prompt", "x", "--weights", "5"], "--weights 5 is out of range"),
    (["--prompt", "x", "--weights", ","], "--weights is empty"),
    (["--prompt", "x --q 1"], "--prompt: --q is not a sample option"),
    (["--prompt", "x", "--width", "8"], "--width 8 is out of range"),
    (["--prompt", "x", "--cfg", "-1"], "--cfg -1 is not a CFG scale"),
    ([], "Give the prompt to compare with --prompt"),
    (["--pick", "1"], "--pick needs the weight to record"),
    (["--pick", "9", "--weight", "1"], "There is no file for epoch 9"),
    (["--pick", "1", "--weight", "x"], "--weight x is not a number"),
    (["--prompt", "x", "--weight", "1"], "--weight goes with --pick"),
])
def test_bad_input_is_one_sentence_and_exit_2(project, capsys, args, words):
    code, out, err = cli(capsys, project.root, *args)
    assert code == 2 and out == ""
    assert words in one_sentence(err)


def test_no_epoch_files_yet(tmp_path, tiny_sd15, capsys):
    empty = make_train_project(tmp_path / "e", tiny_sd15, images=1)
    code, out, err = cli(capsys, empty.root, "--prompt", "ohwx")
    assert code == 2 and "There are no LoRA files in" in one_sentence(err) and "train first" in err
    code, out, _ = cli(capsys, empty.root, "--prompt", "ohwx", "--json")
    assert code == 2 and json.loads(out)["error"].startswith("There are no LoRA files")


def test_bad_input_never_imports_torch(project):
    """Checks run before the model stack loads, so a typo answers at once."""
    code = ("import sys; from tui_lora.cli import main; "
            f"rc = main(['compare', {str(project.root)!r}, '--prompt', 'x', '--epochs', '4']); "
            "assert rc == 2, rc; assert 'torch' not in sys.modules, 'torch imported'")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=cli_env(), timeout=120)
    assert r.returncode == 0, r.stderr
    assert "There is no file for epoch 4" in r.stderr


def test_help_lists_the_flags(run_cli):
    r = run_cli("compare", "--help")
    assert r.returncode == 0
    for flag in ("--prompt", "--negative", "--epochs", "--weights", "--seed", "--steps", "--cfg", "--width",
                 "--height", "--sampler", "--pick", "--weight", "--out", "--base-model", "--device", "--json",
                 "--progress-json"):
        assert flag in r.stdout, flag


def test_progress_json_then_sigterm_cancels_without_a_grid(project):
    """The wizard's channel: JSON progress lines on stderr, and SIGTERM mid-render → exit 130, no grid."""
    import signal
    import time

    env = cli_env()
    env["OMP_NUM_THREADS"] = "1"
    out = project.root / "cancelled.png"
    proc = subprocess.Popen([sys.executable, "-m", "tui_lora", "compare", str(project.root), "--json",
                             "--progress-json", "--prompt", "ohwx", "--weights", "0.5,1", "--width", "64",
                             "--height", "64", "--steps", "400", "--out", str(out), "--device", "cpu"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    events = []
    try:
        for line in proc.stderr:
            if line.startswith("{"):
                events.append(json.loads(line))
                if events[-1]["event"] == "progress":
                    time.sleep(0.5)  # inside the first cell's 400 steps
                    proc.send_signal(signal.SIGTERM)
                    break
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr[-2000:]
    data = json.loads(stdout)
    assert (data["error"], data["exit_code"], data["fix"]) == ("Comparison cancelled; no grid was written.", 130, None)
    assert events[0] == {"event": "log", "message": "comparing 2 epochs x 2 weights + no LoRA, 1 prompt x "
                                                    "seeds 42, 43, 64x64, 400 steps"}
    assert {"event": "log", "message": "loading the base model"} in events
    assert events[-1] == {"event": "progress", "done": 0, "total": 10, "what": "no LoRA (2 pictures)"}
    assert not out.exists() and not out.with_suffix(".json").exists() and "Traceback" not in stderr
