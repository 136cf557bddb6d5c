"""The GPU benchmarks' --smoke modes end to end on the CPU (tiny SDXL, 3 steps): the lever table of
benchmarks/train_step.py and the kohya comparison of benchmarks/peer_gpu.sh (which skips kohya's
install there and says so), so the commands left for a GPU run are known to work."""

import json
import subprocess
import sys
from pathlib import Path

from conftest import cli_env

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


def run(cmd, tmp_path, **env):
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path,
                         env={**cli_env(), "OMP_NUM_THREADS": "1", **env})
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    return out.stdout


def table_rows(text):
    return [[c.strip() for c in line.strip().strip("|").split("|")] for line in text.splitlines()
            if line.startswith("| ") and not line.startswith("| model") and not line.startswith("| run")]


def test_train_step_smoke_prints_every_lever_on_and_off(tmp_path, tiny_sdxl):
    out = run([sys.executable, str(BENCH / "train_step.py"), "--smoke", "--family", "sdxl",
               "--model", "sdxl", str(tiny_sdxl)], tmp_path)
    assert "| model | lever | off s/step | on s/step | off / on | off peak GiB | on peak GiB |" in out
    rows = {r[1]: r for r in table_rows(out)}
    assert set(rows) == {"TF32 (allow_tf32)", "fused AdamW step (fused_optimizer; AdamW on both sides)",
                         "losses read about once a second, not every step", "channels_last",
                         "torch_compile = blocks", "text-encoder outputs cached",
                         "low_vram (fp8 base weights, checkpointing, AdamW8bit)"}
    for label, r in rows.items():
        assert r[0] == "sdxl 64 px"
        if label == "torch_compile = blocks":
            assert "skipped in --smoke" in r[4]
            continue
        off, on, ratio = float(r[2]), float(r[3]), float(r[4])
        assert off > 0 and on > 0 and abs(ratio - off / on) < 0.02 * ratio + 0.006
        assert r[5] == r[6] == "–"  # no GPU memory on the CPU


def test_peer_gpu_smoke_runs_tui_lora_and_says_kohya_was_skipped(tmp_path, tiny_sdxl):
    out = run(["bash", str(BENCH / "peer_gpu.sh"), "--smoke", "--work", str(tmp_path / "work"), "--family", "sdxl",
               "--model", "sdxl", str(tiny_sdxl)], tmp_path, PYTHON=sys.executable)
    rows = table_rows(out)
    assert len(rows) == 1
    label, ours, kohya = rows[0][:3]
    assert label.startswith("sdxl 64 px") and "matched" in label
    assert float(ours) > 0
    assert kohya == "skipped: --smoke does not install kohya"
    # the run was tui-lora's real CLI on a project, with its events and its LoRA
    project = tmp_path / "work" / "sdxl-tui-lora"
    assert list((project / "output").glob("*.safetensors"))
    events = [json.loads(line) for line in (project / "logs" / "events.jsonl").read_text().splitlines()]
    assert [e["step"] for e in events if e["event"] == "step"] == [1, 2, 3]
    assert events[-1]["event"] == "done" and events[-1]["steps"] == 3
