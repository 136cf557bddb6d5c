"""The epoch x weight grid on the tiny pipelines: its layout and labels, its JSON index, reproducible
seeds, LoRA weights applied exactly through diffusers, no adapter leaking between cells, cancelling,
and keeping the winner as <name>-best.safetensors."""

import json
import threading

import numpy as np
import pytest
from PIL import Image
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from tui_lora.core.compare import (
    BEST_EPOCH_KEY,
    BEST_WEIGHT_KEY,
    Cell,
    ComparePipeline,
    best_file,
    list_epoch_files,
    pick_best,
    plan_compare,
    run_compare,
)
from tui_lora.core.compare.grid import BACKGROUND, draw_grid, layout_grid
from tui_lora.core.errors import UserError
from tui_lora.core.sample_prompts import SamplePrompt
from support.lora_files import make_lora_files
from support.train import make_train_project, torch_threads

PROMPT = SamplePrompt("ohwx, red hair", negative="lowres", width=64, height=64, steps=2, cfg=5.0, seed=7,
                      sampler="euler_a")


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    with torch_threads(1):
        yield


@pytest.fixture(scope="module")
def sd15_project(tmp_path_factory, tiny_sd15):
    with torch_threads(1):
        return make_lora_files(tmp_path_factory.mktemp("cmp") / "p", tiny_sd15, "sd15")


@pytest.fixture(scope="module")
def sd15_pipeline(sd15_project):
    with torch_threads(1):
        return ComparePipeline.load(sd15_project, device="cpu")


def pixels(image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.float64)


def test_grid_layout_boxes_and_labels_without_a_model():
    rows, cols = ["epoch 2", "epoch 10 (final)"], ["no LoRA", "weight 0.6", "weight 1"]
    layout = layout_grid(2, 3, 64, 96, rows)
    cells = {(r, c): Image.new("RGB", (64, 96), (10 + 100 * r, 20 + 60 * c, 200)) for r in range(2) for c in range(3)}
    grid = draw_grid(cells, layout, row_labels=rows, col_labels=cols, title=["a prompt", "seed 1"])
    assert grid.size == layout.size
    boxes = [layout.box(r, c) for r in range(2) for c in range(3)]
    for (r, c), box in zip(cells, boxes):
        assert box[2] - box[0] == 64 and box[3] - box[1] == 96
        assert 0 <= box[0] < box[2] <= grid.size[0] and 0 <= box[1] < box[3] <= grid.size[1]
        assert grid.crop(box).tobytes() == cells[(r, c)].tobytes()  # cells are pasted at full size
    for a in boxes:  # no two cells overlap
        for b in boxes:
            if a != b:
                assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]
    background = np.array(BACKGROUND, dtype=np.float64)
    for box in [layout.title_box()] + [layout.column_label_box(c) for c in range(3)] + \
               [layout.row_label_box(r) for r in range(2)]:
        region = pixels(grid.crop(box))
        assert (np.abs(region - background).sum(axis=2) > 200).sum() > 10, box  # dark text is drawn there


def test_grid_png_index_labels_and_no_leaking_adapters(sd15_project, sd15_pipeline):
    seen = []
    plan = plan_compare(sd15_project, PROMPT, epochs=[2, "final"], weights=[0.5, 1.0])
    result = run_compare(sd15_project, plan, pipeline=sd15_pipeline, progress=lambda *a: seen.append(a))
    assert not result.cancelled and result.grid_path.parent == sd15_project.samples_dir
    assert [s[0] for s in seen] == [0, 1, 2, 3, 4, 5] and seen[-1] == (5, 5, "writing the grid")
    index = json.loads(result.index_path.read_text())
    with Image.open(result.grid_path) as im:
        grid = im.convert("RGB")
    assert grid.size == tuple(index["size"]) == result.size
    assert index["grid"] == result.grid_path.name and index["seed"] == 7 and index["sampler"] == "euler_a"
    assert [r["label"] for r in index["rows"]] == ["epoch 2", "epoch 3 (final)"]
    assert [c["weight"] for c in index["columns"]] == [None, 0.5, 1.0]
    cells = index["cells"]
    assert len(cells) == 2 * 3
    final = str(sd15_project.final_file())
    assert [(c["row"], c["col"], c["epoch"], c["weight"], c["file"]) for c in cells] == [
        (0, 0, None, 0.0, None), (0, 1, 2, 0.5, str(sd15_project.epoch_file(2))),
        (0, 2, 2, 1.0, str(sd15_project.epoch_file(2))),
        (1, 0, None, 0.0, None), (1, 1, 3, 0.5, final), (1, 2, 3, 1.0, final)]
    # the index reads back into the same cells the run returned (the wizard maps cells through it)
    assert [Cell.from_dict(c) for c in cells] == result.cells
    crops = {(c["row"], c["col"]): grid.crop(tuple(c["box"])) for c in cells}
    assert all(im.size == (64, 64) and c["seed"] == 7 for im, c in zip(crops.values(), cells))
    # labels: the header above each column and the label left of each row hold text
    for c in cells:
        x0, y0, x1, y1 = c["box"]
        header = pixels(grid.crop((x0, 0, x1, cells[0]["box"][1])))
        row_label = pixels(grid.crop((0, y0, cells[0]["box"][0], y1)))
        for region in (header, row_label):
            assert (np.abs(region - np.array(BACKGROUND)).sum(axis=2) > 200).sum() > 10
    # the no-LoRA column repeats one image, the LoRA changes the picture
    assert crops[(0, 0)].tobytes() == crops[(1, 0)].tobytes()
    assert crops[(0, 2)].tobytes() != crops[(0, 0)].tobytes()
    assert crops[(1, 2)].tobytes() != crops[(0, 2)].tobytes()
    # nothing leaks: after the grid, the pipeline renders exactly the no-LoRA image again
    sd15_pipeline.use_lora(None)
    assert sd15_pipeline.render(PROMPT).tobytes() == crops[(0, 0)].tobytes()
    assert not any(sd15_pipeline.pipe.get_list_adapters().values())


def test_the_same_seed_reproduces_the_image_and_another_seed_does_not(sd15_project, sd15_pipeline):
    from dataclasses import replace

    sd15_pipeline.use_lora(sd15_project.epoch_file(1), 0.8)
    a = sd15_pipeline.render(PROMPT)
    b = sd15_pipeline.render(PROMPT)
    c = sd15_pipeline.render(replace(PROMPT, seed=8))
    assert a.tobytes() == b.tobytes()
    assert np.abs(pixels(a) - pixels(c)).mean() > 5
    sd15_pipeline.use_lora(None)


def test_weights_are_applied_exactly_and_a_higher_weight_moves_further(tmp_path, sd15_project, sd15_pipeline):
    path = sd15_project.epoch_file(2)
    sd15_pipeline.use_lora(None)
    base = pixels(sd15_pipeline.render(PROMPT))
    images = {}
    for w in (0.25, 0.5, 1.0):
        sd15_pipeline.use_lora(path, w)
        images[w] = pixels(sd15_pipeline.render(PROMPT))
    dist = {w: np.abs(im - base).mean() for w, im in images.items()}
    assert 0 < dist[0.25] < dist[0.5] < dist[1.0], dist
    # weight 0.5 == the file with every lora_up halved (exact in fp16) at weight 1, UNet and text encoder alike
    sd = load_file(str(path))
    assert any(k.startswith("lora_te_") for k in sd)
    halved = {k: v * 0.5 if k.endswith("lora_up.weight") else v for k, v in sd.items()}
    half_file = tmp_path / "half.safetensors"
    save_file(halved, str(half_file))
    sd15_pipeline.use_lora(half_file, 1.0)
    assert np.abs(pixels(sd15_pipeline.render(PROMPT)) - images[0.5]).max() <= 1
    sd15_pipeline.use_lora(None)


def test_cancel_writes_nothing(sd15_project, sd15_pipeline):
    cancel = threading.Event()
    plan = plan_compare(sd15_project, PROMPT, epochs=[1, 2], weights=[1.0], out=sd15_project.root / "c.png")

    def progress(done, total, what):
        if done == 1:
            cancel.set()

    result = run_compare(sd15_project, plan, pipeline=sd15_pipeline, progress=progress, cancel=cancel)
    assert result.cancelled and result.grid_path is None and result.cells == []
    assert not (sd15_project.root / "c.png").exists() and not (sd15_project.root / "c.json").exists()
    assert not any(sd15_pipeline.pipe.get_list_adapters().values())


def test_epoch_files_and_plan_errors(sd15_project, tmp_path, tiny_sd15):
    files = list_epoch_files(sd15_project)
    assert [(f.epoch, f.final) for f in files] == [(1, False), (2, False), (3, True)]
    plan = plan_compare(sd15_project, SamplePrompt("ohwx"))
    assert [r.epoch for r in plan.rows] == [1, 2, 3] and plan.weights == [0.6, 0.8, 1.0]
    s = sd15_project.settings
    assert (plan.prompt.seed, plan.prompt.width, plan.prompt.sampler) == (
        s["training"]["seed"], s["dataset"]["resolution"], s["sample"]["sampler"])
    with pytest.raises(UserError, match=r"no file for epoch 5 in .*; the saved ones are: epoch 1, epoch 2, "
                                        r"epoch 3 \(final\)\."):
        plan_compare(sd15_project, PROMPT, epochs=[1, 5])
    empty = make_train_project(tmp_path / "empty", tiny_sd15, images=1)
    with pytest.raises(UserError, match="There are no LoRA files in .* yet; train first"):
        plan_compare(empty, PROMPT)
    with pytest.raises(UserError, match="There are no LoRA files"):
        pick_best(empty, 2, 1.0)
    with pytest.raises(UserError, match="no file for epoch 7"):
        pick_best(sd15_project, 7, 1.0)


def test_pick_best_copies_the_epoch_with_its_metadata(sd15_project):
    source = sd15_project.epoch_file(2)
    path = pick_best(sd15_project, 2, 0.8)
    assert path == best_file(sd15_project) == sd15_project.output_dir / f"{sd15_project.output_name}-best.safetensors"
    with safe_open(str(source), "pt") as a, safe_open(str(path), "pt") as b:
        meta_a, meta_b = a.metadata(), b.metadata()
        assert set(a.keys()) == set(b.keys())
        assert all(a.get_tensor(k).equal(b.get_tensor(k)) for k in a.keys())
    assert meta_b[BEST_EPOCH_KEY] == "2" and meta_b[BEST_WEIGHT_KEY] == "0.8"
    assert meta_b["ss_tui_lora_best_source"] == source.name
    for k, v in meta_a.items():
        if k != "sshs_legacy_hash":  # the legacy hash covers the header, which grew
            assert meta_b[k] == v, k
    assert meta_b["sshs_model_hash"] == meta_a["sshs_model_hash"]  # the same tensors
    assert any(k.startswith("modelspec.") for k in meta_b) and meta_b["ss_epoch"] == "2"
    # the best file is no epoch of its own, and picking again replaces it
    assert [f.epoch for f in list_epoch_files(sd15_project)] == [1, 2, 3]
    pick_best(sd15_project, "final", 1.2)
    with safe_open(str(path), "pt") as b:
        assert b.metadata()[BEST_EPOCH_KEY] == "3" and b.metadata()[BEST_WEIGHT_KEY] == "1.2"
    with pytest.raises(UserError, match="out of range"):
        pick_best(sd15_project, 2, 7)
    assert not [p for p in sd15_project.output_dir.iterdir() if p.name.endswith(".tmp")]


def test_sdxl_grid(tmp_path, tiny_sdxl):
    project = make_lora_files(tmp_path / "x", tiny_sdxl, "sdxl", epochs=(), final=1)
    plan = plan_compare(project, SamplePrompt("ohwx", width=96, height=64, steps=2, sampler="dpmsolver++"),
                        weights=[1.0])
    result = run_compare(project, plan, device="cpu")
    index = json.loads(result.index_path.read_text())
    assert [(c["epoch"], c["weight"]) for c in index["cells"]] == [(None, 0.0), (1, 1.0)]
    with Image.open(result.grid_path) as im:
        a, b = (im.crop(tuple(c["box"])) for c in index["cells"])
        assert a.size == (96, 64) and a.tobytes() != b.tobytes()
    assert index["sampler_label"] == "DPM++ 2M Karras"


def test_a_lora_of_the_other_family_is_refused(tmp_path, sd15_project, sd15_pipeline, tiny_sdxl):
    sdxl = make_lora_files(tmp_path / "x", tiny_sdxl, "sdxl", epochs=(), final=1)
    with pytest.raises(UserError, match="is an SDXL LoRA but the base model is SD1.x"):
        sd15_pipeline.use_lora(sdxl.final_file(), 1.0)
    assert not any(sd15_pipeline.pipe.get_list_adapters().values())
