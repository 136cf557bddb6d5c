"""End-to-end: `tui-lora tag` in a subprocess, as a user runs it."""

import json
import os

from PIL import Image

from tui_lora.demo.tiny_tagger import EXPECTED_RED_SQUARE, build_tiny_wd14


def test_tag_command_json_and_text(run_cli, make_project, tmp_path):
    model = build_tiny_wd14(tmp_path / "wd14")
    project = make_project(images=0, trigger="ohwx")
    folder = project.concepts()[0].path
    Image.new("RGB", (64, 64), (255, 0, 0)).save(folder / "red.png")
    (folder / "broken.jpg").write_bytes(b"not a jpeg")
    r = run_cli("tag", project.root, "--model", model, "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)  # nothing but JSON on stdout (no onnxruntime chatter)
    assert data["tagged"] == 1 and data["device"] == "cpu" and data["history_id"] == 1
    assert data["unreadable"][0]["path"] == "dataset/10_ohwx/broken.jpg"
    assert (folder / "red.txt").read_text() == "ohwx, " + ", ".join(EXPECTED_RED_SQUARE)
    assert "onnxruntime" not in r.stderr.lower()

    r = run_cli("tag", project.root, "--model", model, "--mode", "missing")
    assert r.returncode == 0, r.stderr
    assert "1 images already had a caption" in r.stdout and "broken.jpg: " in r.stdout


def test_tag_command_bad_input_is_one_line(run_cli, make_project, tmp_path):
    project = make_project(images=2)
    r = run_cli("tag", project.root, "--model", tmp_path / "missing")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.count("\n") == 1 and "does not exist" in r.stderr
    r = run_cli("tag", project.root, "--threshold", "3")
    assert r.returncode == 2 and "outside 0-1" in r.stderr


def test_tag_from_the_hub_cache_and_offline_message(run_cli, make_project, tmp_path, monkeypatch):
    # A Hugging Face cache laid out as huggingface_hub writes it: hf_hub_download finds it offline.
    cache = tmp_path / "hub"
    snap = cache / "models--someone--wd-tiny-tagger" / "snapshots" / ("a" * 40)
    build_tiny_wd14(snap)
    (cache / "models--someone--wd-tiny-tagger" / "refs").mkdir()
    (cache / "models--someone--wd-tiny-tagger" / "refs" / "main").write_text("a" * 40)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    project = make_project(images=2)
    r = run_cli("tag", project.root, "--model", "someone/wd-tiny-tagger", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout)["tagged"] == 2
    r = run_cli("tag", project.root, "--json")  # the default model, never downloaded here
    assert r.returncode == 2
    msg = json.loads(r.stdout)["error"]
    assert "SmilingWolf/wd-eva02-large-tagger-v3 is not downloaded yet" in msg and "--model" in msg
    assert os.environ["HF_HUB_OFFLINE"] == "1"


def test_sigterm_stops_after_the_batch_keeps_the_captions_and_reports_json_progress(make_project, tmp_path):
    """What the wizard's esc does to a captioner it runs as a child: JSON progress on stderr, then
    SIGTERM → the run ends after its batch, what it wrote stays (undoable), exit 130, result on stdout."""
    import signal
    import subprocess
    import sys

    from conftest import cli_env

    from tui_lora.core.dataset import tagops
    from tui_lora.demo.datasets import write_dataset

    slow = build_tiny_wd14(tmp_path / "slow", size=448, mlp_layers=3, mlp_width=512)  # ~0.1 s an image here
    project = make_project(images=0, trigger="ohwx")
    folder = project.concepts()[0].path
    write_dataset(folder, 100, size=(32, 32), captions=False, trigger="ohwx")
    proc = subprocess.Popen([sys.executable, "-m", "tui_lora", "tag", str(project.root), "--model", str(slow),
                             "--batch", "1", "--json", "--progress-json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env())
    try:
        first = None
        for line in proc.stderr:
            if line.startswith("{"):
                first = json.loads(line)
                proc.send_signal(signal.SIGTERM)
                break
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert first == {"event": "progress", "done": 1, "total": 100}
    assert proc.returncode == 130, stderr[-2000:]
    data = json.loads(stdout)
    written = sorted(folder.glob("*.txt"))
    assert data["cancelled"] is True and 0 < data["tagged"] == len(written) < 100
    assert all(p.read_text().startswith("ohwx, ") for p in written) and "Traceback" not in stderr
    tagops.undo(project)
    assert not list(folder.glob("*.txt"))
