"""Several prompts and seeds per cell, a sweep's variants as rows, batched rendering, on the tiny SD1.5
pipeline: a combined sheet for 2 variants × 2 prompts × 2 seeds × 2 weights has every picture where its
JSON box says and is byte-identical when rendered twice; batched pictures equal one-at-a-time pictures;
separate sheets; the winning variant kept with its settings, and adopted into project.toml."""

import json
import shutil
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image
from safetensors import safe_open

from tui_lora.cli import main
from tui_lora.core.compare import (
    BEST_SETTINGS_KEY,
    BEST_VARIANT_KEY,
    ComparePipeline,
    Picture,
    parse_seeds,
    plan_compare,
    run_compare,
    select_variant_rows,
)
from tui_lora.core.compare.batch import plan_batches
from tui_lora.core.errors import UserError
from tui_lora.core.project import Project
from tui_lora.core.sample_prompts import SamplePrompt
from tui_lora.core.sweep import VariantProject, parse_varies
from tui_lora.core.sweep.manifest import SweepManifest, write_manifest
from tui_lora.core.sweep.spec import combinations
from support.lora_files import make_lora_files
from support.train import torch_threads

PROMPTS = [SamplePrompt("ohwx, red hair", negative="lowres", width=64, height=64, steps=3, cfg=5.0, sampler="euler_a"),
           SamplePrompt("ohwx, standing, full body", width=64, height=64, steps=3, cfg=5.0, sampler="euler_a")]
SEEDS = [7, 8]
LABELS = ["lr1e-4_dim4", "lr5e-4_dim4"]


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    with torch_threads(1):
        yield


@pytest.fixture(scope="module")
def swept(tmp_path_factory, tiny_sd15):
    """A project whose sweep has two finished variants (LoRA files of visibly different strength)."""
    with torch_threads(1):
        project = make_lora_files(tmp_path_factory.mktemp("sheets") / "p", tiny_sd15, "sd15", epochs=(1,), final=2)
    varies = parse_varies(["training.unet_lr=1e-4,5e-4", "network.network_dim=4"])
    variants = combinations(varies)
    assert [v.label for v in variants] == LABELS
    write_manifest(project, SweepManifest(varies, variants))
    for variant, source in zip(variants, (project.epoch_file(1), project.final_file())):
        view = VariantProject.of(project, variant.label)
        view.ensure_layout()
        shutil.copyfile(source, view.final_file())
    return Project.load(project.root)


@pytest.fixture(scope="module")
def pipeline(swept):
    with torch_threads(1):
        return ComparePipeline.load(swept, device="cpu")


def pixels(image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.int16)


def sweep_plan(project, out, **kw):
    rows, missing = select_variant_rows(project, ["final"])
    return plan_compare(project, PROMPTS, weights=[0.5, 1.0], seeds=SEEDS, sheet="combined", rows=rows,
                        missing=missing, out=out, **kw)


def test_combined_sheet_pictures_are_where_the_index_says_and_render_the_same_twice(swept, pipeline, tmp_path):
    plan = sweep_plan(swept, tmp_path / "a.png")
    assert plan.total_cells == (1 + 2 * 2) * 4 and plan.sheet_paths() == [tmp_path / "a.png"]
    seen = []
    result = run_compare(swept, plan, pipeline=pipeline, keep_images=True, progress=lambda *a: seen.append(a))
    # one pipeline call per cell: the 4 prompt x seed pictures batched (the no-LoRA cell once)
    assert [s[0] for s in seen] == [0, 4, 8, 12, 16, 20]
    assert seen[1][2] == "lr 1e-4, dim 4 · final at weight 0.5 (4 pictures)"
    index = json.loads(plan.index_path.read_text())
    assert index["version"] == 2 and index["sheet"] == "combined" and index["seeds"] == [SEEDS, SEEDS]
    assert [r["label"] for r in index["rows"]] == ["lr 1e-4, dim 4 · final", "lr 5e-4, dim 4 · final"]
    assert [r["variant"] for r in index["rows"]] == LABELS
    assert [p["prompt"] for p in index["prompts"]] == [p.prompt for p in PROMPTS]
    assert index["variants"] == [{"label": LABELS[0], "describe": "lr 1e-4, dim 4"},
                                 {"label": LABELS[1], "describe": "lr 5e-4, dim 4"}]
    # version 1's keys are still there: the first prompt and seed, one cell per row x column
    assert index["prompt"] == "ohwx, red hair" and index["seed"] == 7 and len(index["cells"]) == 2 * 3
    pictures = [Picture.from_dict(p) for p in index["pictures"]]
    assert pictures == result.pictures and len(pictures) == 2 * 3 * 4
    with Image.open(plan.grid_path) as im:
        sheet = im.convert("RGB")
    assert list(sheet.size) == index["size"]
    boxes = []
    for p, image in zip(pictures, result.images):
        assert sheet.crop(p.box).tobytes() == image.convert("RGB").tobytes(), p  # exactly the rendered picture
        cell = next(c for c in index["cells"] if (c["row"], c["col"]) == (p.row, p.col))
        x0, y0, x1, y1 = cell["box"]
        assert x0 <= p.box[0] < p.box[2] <= x1 and y0 <= p.box[1] < p.box[3] <= y1  # inside its cell
        assert p.variant == (None if p.col == 0 else LABELS[p.row]) and p.seed == SEEDS[p.seed_index]
        assert p.weight == (0.0 if p.col == 0 else [0.5, 1.0][p.col - 1])
        assert p.prompt == PROMPTS[p.prompt_index].prompt and p.sheet == "a.png"
        boxes.append(p.box)
    for n, a in enumerate(boxes):  # no two pictures overlap
        for b in boxes[n + 1:]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]
    # what differs: prompts and seeds within a cell, the variant between rows; the no-LoRA cell repeats
    by = {(p.row, p.col, p.prompt_index, p.seed_index): i for i, p in enumerate(pictures)}
    img = [pixels(im) for im in result.images]
    assert not np.array_equal(img[by[(0, 2, 0, 0)]], img[by[(0, 2, 0, 1)]])
    assert not np.array_equal(img[by[(0, 2, 0, 0)]], img[by[(0, 2, 1, 0)]])
    assert not np.array_equal(img[by[(0, 2, 0, 0)]], img[by[(1, 2, 0, 0)]])
    assert np.array_equal(img[by[(0, 0, 1, 1)]], img[by[(1, 0, 1, 1)]])
    # rendered twice: the same bytes
    again = run_compare(swept, sweep_plan(swept, tmp_path / "b.png"), pipeline=pipeline)
    assert not again.cancelled
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()


def test_batched_pictures_equal_one_at_a_time(swept, pipeline, tmp_path):
    rows, _ = select_variant_rows(swept, ["final"], variants=[LABELS[1]])
    plan = plan_compare(swept, PROMPTS, weights=[0.8], seeds=SEEDS, sheet="combined", rows=rows, out=tmp_path / "c.png")
    batched = run_compare(swept, plan, pipeline=pipeline, keep_images=True)
    one = run_compare(swept, replace(plan, max_batch=1, grid_path=tmp_path / "d.png",
                                     index_path=tmp_path / "d.json"), pipeline=pipeline, keep_images=True)
    assert len(batched.images) == len(one.images) == 2 * 4
    worst = 0
    for p, a, b in zip(batched.pictures, batched.images, one.images):
        # and both equal the single-picture renderer the training samples use
        pipeline.use_lora(p.file, p.weight)
        alone = pipeline.render(replace(PROMPTS[p.prompt_index], seed=p.seed))
        for other in (b, alone):
            diff = np.abs(pixels(a) - pixels(other))
            worst = max(worst, int(diff.max()))
            assert diff.max() <= 2 and diff.mean() < 0.05, (p, diff.max(), diff.mean())
    pipeline.use_lora(None)
    assert worst <= 2


def test_separate_sheets_one_per_prompt_and_seed(swept, pipeline, tmp_path):
    rows, _ = select_variant_rows(swept, ["final"])
    plan = plan_compare(swept, PROMPTS, weights=[1.0], seeds=SEEDS, rows=rows, out=tmp_path / "s.png")
    names = [p.name for p in plan.sheet_paths()]
    assert names == ["s.png", "s-p1-s8.png", "s-p2-s7.png", "s-p2-s8.png"]
    result = run_compare(swept, plan, pipeline=pipeline, keep_images=True)
    index = json.loads(plan.index_path.read_text())
    assert [s["file"] for s in index["sheets"]] == names and index["sheet"] == "separate"
    assert [(s["prompt_index"], s["seed_index"]) for s in index["sheets"]] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    for p, image in zip(result.pictures, result.images):
        sheet = index["sheets"][names.index(p.sheet)]
        assert (sheet["prompt_index"], sheet["seed_index"]) == (p.prompt_index, p.seed_index)
        with Image.open(tmp_path / p.sheet) as im:
            assert im.convert("RGB").crop(p.box).tobytes() == image.convert("RGB").tobytes()
    # the first sheet's cells are version 1's cells
    assert all(tuple(c["box"]) == next(p.box for p in result.pictures if p.sheet == "s.png" and
                                          (p.row, p.col) == (c["row"], c["col"])) for c in index["cells"])


def test_plans_and_batches_without_a_model(swept):
    with pytest.raises(UserError, match="different picture sizes"):
        plan_compare(swept, [PROMPTS[0], replace(PROMPTS[1], width=128)])
    with pytest.raises(UserError, match="not a list of whole numbers"):
        parse_seeds("1,two")
    assert parse_seeds("3, 1,3") == [3, 1]
    # default seeds: each prompt's own seed (training.seed unless --d) and the next, the same for every prompt
    plan = plan_compare(swept, [SamplePrompt("a"), SamplePrompt("b")], seeds_per_prompt=2, epochs=["final"])
    seed = swept.settings.training.seed
    assert plan.seeds == [[seed, seed + 1], [seed, seed + 1]] and plan.per_cell == 4
    # pictures batch only with what a pipeline call shares; a big picture makes smaller batches
    sps = [replace(PROMPTS[0], seed=s) for s in range(5)] + [replace(PROMPTS[0], steps=9, seed=1)]
    assert plan_batches(sps, [1] * 6) == [[0, 1, 2, 3, 4], [5]]
    assert plan_batches(sps, [1, 1, 2, 1, 1, 1], max_batch=2) == [[0, 1], [3, 4], [2], [5]]
    big = [replace(PROMPTS[0], width=1024, height=1024, seed=s) for s in range(5)]
    assert plan_batches(big, [1] * 5) == [[0, 1], [2, 3], [4]]
    rows, missing = select_variant_rows(swept, [2])  # the first variant's final file is its epoch 1
    assert [r.variant for r in rows] == [LABELS[1]] and rows[0].final and missing == [LABELS[0]]
    with pytest.raises(UserError, match="No variant of the sweep has files for epochs 5"):
        select_variant_rows(swept, [5])
    with pytest.raises(UserError, match="no variant nope"):
        select_variant_rows(swept, None, variants=["nope"])


def test_pick_a_variant_and_adopt_its_settings(swept, capsys):
    before = swept.toml_path.read_text()
    try:
        assert main(["compare", str(swept.root), "--pick", f"{LABELS[1]}:final", "--weight", "0.7", "--adopt",
                     "--json"]) == 0
        data = json.loads(capsys.readouterr().out)
        assert data["variant"] == LABELS[1] and data["settings"] == {"training.unet_lr": 5e-4, "network.network_dim": 4}
        with safe_open(data["best"], "pt") as fh:
            meta = fh.metadata()
        assert meta[BEST_VARIANT_KEY] == LABELS[1] and meta["ss_tui_lora_best_weight"] == "0.7"
        assert json.loads(meta[BEST_SETTINGS_KEY]) == {"network.network_dim": 4, "training.unet_lr": 5e-4}
        after = Project.load(swept.root)
        assert after.settings.training.unet_lr == 5e-4 and after.settings.network.network_dim == 4
        assert "#" in after.toml_path.read_text()  # the preset's comments are kept
        assert main(["compare", str(swept.root), "--pick", "final", "--weight", "0.7", "--adopt"]) == 2
        assert "--adopt takes a sweep variant's settings" in capsys.readouterr().err
        assert main(["compare", str(swept.root), "--pick", "lr9_dim9:final", "--weight", "0.7"]) == 2
        assert "The sweep has no variant lr9_dim9; its variants are" in capsys.readouterr().err
    finally:
        swept.toml_path.write_text(before)


def test_batched_pictures_keep_the_zero_terminal_snr_schedule_and_cfg_rescale(swept, pipeline, tmp_path):
    """A zero-terminal-SNR model's grid is rendered with its schedule and CFG rescale in batches too,
    as the single-picture renderer of the samples does."""
    rows, _ = select_variant_rows(swept, ["final"], variants=[LABELS[1]])
    plan = plan_compare(swept, PROMPTS, weights=[0.8], seeds=SEEDS[:1], sheet="combined", rows=rows,
                        out=tmp_path / "z.png")
    plain = run_compare(swept, plan, pipeline=pipeline, keep_images=True)
    pipeline.zero_terminal_snr, pipeline.guidance_rescale = True, 0.7
    try:
        ztsnr = run_compare(swept, replace(plan, grid_path=tmp_path / "z2.png", index_path=tmp_path / "z2.json"),
                            pipeline=pipeline, keep_images=True)
        for p, a, before in zip(ztsnr.pictures, ztsnr.images, plain.images):
            pipeline.use_lora(p.file, p.weight) if p.file else pipeline.use_lora(None)
            alone = pipeline.render(replace(PROMPTS[p.prompt_index], seed=p.seed))
            assert np.abs(pixels(a) - pixels(alone)).max() <= 2, p
            assert np.abs(pixels(a) - pixels(before)).max() > 2, p  # the schedule is not the plain one
    finally:
        pipeline.zero_terminal_snr, pipeline.guidance_rescale = False, 0.0
        pipeline.use_lora(None)
