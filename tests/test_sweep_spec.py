"""What a sweep trains, checked before anything starts (no torch): --vary parsing, labels made of the
varied values, every combination, the checks --set makes, the --yes threshold, the planner's total."""

import json
import subprocess
import sys

import pytest

from conftest import cli_env
from tui_lora.core.errors import ConfigError, UserError
from tui_lora.core.sweep.plan import plan_sweep, wall_seconds
from tui_lora.core.sweep.spec import (
    SweepTooLarge,
    combinations,
    parse_varies,
    parse_vary,
    plan_variants,
    value_text,
)
from tui_lora.core.sweep.variant import VariantProject


def test_values_read_short():
    assert [value_text(v) for v in (0.0005, 1e-4, 0.001, 0.1, 16.0, 8, True, "AdamW8bit")] == [
        "5e-4", "1e-4", "1e-3", "0.1", "16", "8", "on", "AdamW8bit"]


def test_vary_parses_like_set_and_labels_name_the_values():
    lr = parse_vary("training.unet_lr=1e-4, 5e-4,1e-3,0.0005")  # a repeated value (5e-4) counts once
    assert lr.key == "training.unet_lr" and lr.values == (1e-4, 5e-4, 1e-3) and lr.texts == ("1e-4", "5e-4", "1e-3")
    variants = combinations([lr, parse_vary("network.network_dim=8,16")])
    assert [v.label for v in variants] == ["lr1e-4_dim8", "lr1e-4_dim16", "lr5e-4_dim8", "lr5e-4_dim16",
                                           "lr1e-3_dim8", "lr1e-3_dim16"]
    v = variants[3]
    assert v.overrides == ("training.unet_lr=0.0005", "network.network_dim=16")
    assert v.values == {"training.unet_lr": 5e-4, "network.network_dim": 16}
    assert v.describe() == "lr 5e-4, dim 16"
    other = combinations([parse_vary("training.optimizer_type=AdamW,Lion"), parse_vary("dataset.flip_aug=true,false"),
                          parse_vary("training.min_snr_gamma=0,5")])
    assert other[0].label == "AdamW_flipaugon_snr0" and other[-1].label == "Lion_flipaugoff_snr5"


@pytest.mark.parametrize("text, words", [
    ("training.unet_lr", "is not of the form section.key=v1,v2"),
    ("training.unet_lr=", "has no values"),
    ("training.unet_lr=1e-4,fast", "'fast' is not a number"),
    ("training.unet_lrr=1e-4", "did you mean training.unet_lr?"),
    ("network.network_dim=8,0", "is not allowed"),
    ("project.trigger_word=a,b", "cannot differ between variants"),
    ("sample.sampler=ddim,euler", "sample images do not change what the LoRA learns"),
    ("output.output_name=a,b", "named after the project and its label"),
])
def test_bad_varies_are_one_sentence(text, words):
    with pytest.raises(ConfigError) as info:
        parse_vary(text)
    assert words in info.value.message and info.value.message.replace("e.g. ", "").count(". ") == 0


def test_a_key_varied_twice_or_nothing_varied_is_refused():
    with pytest.raises(ConfigError, match="varied twice; give all its values in one list"):
        parse_varies(["training.unet_lr=1e-4", "training.unet_lr=5e-4"])
    with pytest.raises(UserError, match="at least one setting to vary"):
        parse_varies([])


def test_each_variant_is_checked_against_the_project_and_many_need_confirming(make_project):
    project = make_project(images=2, settings={"training.max_train_steps": 100})
    # the two-key rule of --set: epochs 0 needs steps; a variant with both 0 is refused before anything starts
    with pytest.raises(ConfigError, match="Variant ep0_steps0: .*both 0"):
        plan_variants(project, parse_varies(["training.max_train_epochs=0,2", "training.max_train_steps=0,50"]))
    many = parse_varies(["training.unet_lr=1e-4,2e-4,3e-4,4e-4,5e-4", "network.network_dim=4,8,16,32"])
    with pytest.raises(SweepTooLarge) as info:
        plan_variants(project, many)
    assert info.value.count == 20
    assert len(plan_variants(project, many, confirmed=True)) == 20


def test_a_variant_is_a_project_with_its_own_folders(make_project):
    project = make_project(images=0, name="mia")
    view = VariantProject.of(project, "lr5e-4_dim16")
    root = project.root
    assert view.output_dir == root / "output" / "sweep" / "lr5e-4_dim16"
    assert view.final_file() == root / "output" / "sweep" / "lr5e-4_dim16" / "mia-lr5e-4_dim16.safetensors"
    assert view.epoch_file(2).name == "mia-lr5e-4_dim16-000002.safetensors"
    assert view.events_path == root / "logs" / "sweep" / "lr5e-4_dim16" / "events.jsonl"
    assert view.state_dir == root / "state" / "sweep" / "lr5e-4_dim16"
    assert view.cache_dir == project.cache_dir and view.dataset_dir == project.dataset_dir
    assert view.settings is project.settings and project.output_dir == root / "output"  # the project is untouched
    # with_settings (what the trainer does with the run's settings) keeps the variant's folders
    assert view.with_settings(project.effective_settings(["network.network_dim=16"])).output_dir == view.output_dir


def test_the_planner_totals_the_sweep(make_project, run_cli):
    project = make_project(images=6, settings={"training.train_batch_size": 2, "training.max_train_epochs": 4})
    plan = plan_sweep(project, parse_varies(["training.unet_lr=1e-4,5e-4", "training.max_train_epochs=2,4"]),
                      it_per_s=2.0)
    steps = [p.total_steps for _v, p in plan.variants]
    # 6 images × the preset's repeats, batch 2: 2 and 4 epochs
    assert steps[0] * 2 == steps[1] and steps == [steps[0], steps[1], steps[0], steps[1]]
    assert plan.total_steps == sum(steps) and plan.seconds == pytest.approx(sum(steps) / 2.0)
    # two at a time, in queue order: a | b, then the second a where the first ended, then b after it
    assert wall_seconds(plan, 2) == pytest.approx((2 * steps[0] + steps[1]) / 2.0)
    r = run_cli("steps", project.root, "--vary", "training.unet_lr=1e-4,5e-4", "--vary",
                "training.max_train_epochs=2,4", "--it-per-s", "2", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["count"] == 4 and data["total_steps"] == plan.total_steps
    assert [v["label"] for v in data["variants"]] == ["lr1e-4_ep2", "lr1e-4_ep4", "lr5e-4_ep2", "lr5e-4_ep4"]
    r = run_cli("steps", project.root, "--vary", "training.unet_lr=1e-4,5e-4", "--it-per-s", "2")
    assert "2 variants, " in r.stdout and "steps in all" in r.stdout and "about" in r.stdout


def test_sweep_refusals_are_one_sentence_and_load_nothing(make_project):
    project = make_project(images=2)
    code = ("import sys; from tui_lora.cli import main; rc = main(sys.argv[1:]); "
            "assert 'torch' not in sys.modules, 'torch loaded'; sys.exit(rc)")
    cases = [
        ([], "Name what to vary"),
        (["--vary", "training.unet_lr=1e-4,x"], "is not a number"),
        (["--vary", "training.unet_lr=1,2,3,4,5", "--vary", "network.network_dim=1,2,3,4"],
         "makes 20 variants, each a full training; pass --yes"),
        (["--resume"], "no sweep to resume"),
    ]
    for extra, words in cases:
        r = subprocess.run([sys.executable, "-c", code, "sweep", str(project.root), *extra], capture_output=True,
                           text=True, env=cli_env(), timeout=120)
        assert r.returncode == 2, (extra, r.stderr)
        assert words in r.stderr and r.stderr.startswith("error: ") and r.stderr.count("\n") == 1, r.stderr
    empty = make_project(images=0, name="empty")
    r = subprocess.run([sys.executable, "-c", code, "sweep", str(empty.root), "--vary", "training.unet_lr=1e-4,2e-4"],
                       capture_output=True, text=True, env=cli_env(), timeout=120)
    assert r.returncode == 2 and "The dataset has no images" in r.stderr
    assert not (empty.root / "state" / "sweep" / "sweep.json").exists()


def test_a_model_changed_by_a_speed_lever_is_not_shared_with_the_next_variant(make_project):
    from tui_lora.core.train.reuse import alters_model

    project = make_project(images=0)
    plain = project.effective_settings
    assert not alters_model(plain([])) and not alters_model(plain(["training.allow_tf32=false"]))
    for lever in ("training.fp8_base=true", "training.low_vram=true", "training.torch_compile=blocks",
                  "training.channels_last=true"):
        assert alters_model(plain([lever])), lever
