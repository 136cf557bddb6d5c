"""The training loop on the tiny models: it learns, it counts steps like the planner, it reports events,
it is deterministic enough to resume bitwise, and bad data does not stop it."""

import io
import json
import shutil

import pytest

from tui_lora.core.errors import UserError
from tui_lora.core.events import read_events, summarize
from support.train import make_train_project, torch_threads


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    with torch_threads(1):
        yield


def create(project, stream=None, **kw):
    from tui_lora.core.train.run import make_reporter
    from tui_lora.core.train.trainer import Trainer

    rep = make_reporter(project, stream=stream or io.StringIO())
    return Trainer.create(project, project.effective_settings(kw.pop("overrides", [])), rep, **kw)


@pytest.mark.parametrize("family", ["sd15", "sdxl"])
def test_loss_on_a_fixed_batch_drops_after_a_short_overfit(tmp_path, request, family):
    model = request.getfixturevalue(f"tiny_{family}")
    project = make_train_project(tmp_path / "p", model, family=family, images=1, settings={
        "training.train_batch_size": 1, "training.max_train_epochs": 0, "training.max_train_steps": 20,
        "training.lr_scheduler": "constant", "training.unet_lr": 1e-2, "training.min_snr_gamma": 0.0,
        "dataset.shuffle_caption": False, "network.network_type": "locon", "network.network_dim": 8,
        "network.network_alpha": 8.0, "training.gradient_checkpointing": family == "sdxl"})
    trainer = create(project)
    before = [trainer.eval_loss([0], seed=s) for s in (1, 2, 3)]
    result = trainer.fit()
    after = [trainer.eval_loss([0], seed=s) for s in (1, 2, 3)]
    assert result.steps == 20
    assert sum(after) < 0.8 * sum(before), (before, after)
    # the fixed batch really is fixed
    assert trainer.eval_loss([0], seed=1) == after[0]


def test_steps_events_and_files_match_the_plan(tmp_path, tiny_sd15):
    from tui_lora.core.plan import plan_for_project
    from tui_lora.demo.datasets import write_dataset

    project = make_train_project(tmp_path / "p", tiny_sd15, images=5, repeats=2,
                                 size=[(64, 64), (128, 64), (64, 128), (96, 64)], settings={
        "training.train_batch_size": 3, "training.mixed_precision": "fp16", "training.max_train_epochs": 2,
        "dataset.resolution": 128, "dataset.flip_aug": True, "dataset.caption_dropout_rate": 0.1,
        "training.noise_offset": 0.05, "training.min_snr_gamma": 5.0, "training.max_token_length": 150,
        "dataset.prior_loss_weight": 0.5, "dataset.reg_data_dir": "reg", "dataset.cache_latents_to_disk": True})
    write_dataset(project.dataset_dir / "1_style", 3, size=[(128, 128), (64, 128)], seed=5)
    write_dataset(project.root / "reg" / "1_person", 3, size=[(128, 64)], seed=9, captions=False)
    plan = plan_for_project(project)
    out = io.StringIO()
    trainer = create(project, stream=out)
    # regularization samples count prior_loss_weight times in the loss
    reg = next(i for i, e in enumerate(trainer.s.layout.entries) if e.is_reg)
    halved = trainer.eval_loss([reg], seed=3)
    trainer.s.prior_loss_weight = 1.0
    assert halved == pytest.approx(0.5 * trainer.eval_loss([reg], seed=3), rel=1e-6)
    trainer.s.prior_loss_weight = 0.5
    result = trainer.fit()
    events = read_events(project.events_path)
    steps = [e for e in events if e["event"] == "step"]
    start = next(e for e in events if e["event"] == "start")
    assert len(steps) == result.steps == plan.total_steps == start["total_steps"]
    assert start["steps_per_epoch"] == plan.steps_per_epoch and start["epochs"] == 2
    assert start["images"] == 8 and start["device"] == "cpu"
    assert [s["step"] for s in steps] == list(range(1, plan.total_steps + 1))
    assert {s["epoch"] for s in steps} == {1, 2}
    for s in steps:
        assert s["loss"] > 0 and s["avg_loss"] > 0 and s["lr"] >= 0
        assert s["eta_s"] is None or s["eta_s"] >= 0
    saves = [e for e in events if e["event"] == "save"]
    assert [e["path"] for e in saves] == [str(project.epoch_file(1)), str(project.final_file())]
    done = events[-1]
    assert done["event"] == "done" and done["path"] == str(project.final_file()) and done["steps"] == plan.total_steps
    summary = summarize(events)
    assert summary.state == "finished" and summary.final_path == str(project.final_file())
    warnings = [str(w) for w in summary.warnings]  # (notices: a sentence and its fix as data)
    assert any("fp16 mixed precision needs a CUDA GPU" in w for w in warnings)
    assert any("no caption file" in w for w in warnings)  # the regularization images
    # the progress went to the stream as readable lines
    text = out.getvalue()
    assert f"step {plan.total_steps}/{plan.total_steps}" in text and "saved" in text and "done:" in text
    # latents were cached on disk: one entry per image (and its mirror inside it)
    assert len(list((project.cache_dir / "latents").glob("*.safetensors"))) == 11


def test_latent_disk_cache_is_reused_and_follows_image_changes(tmp_path, tiny_sd15):
    project = make_train_project(tmp_path / "p", tiny_sd15, images=3, settings={
        "dataset.cache_latents_to_disk": True})
    first = create(project)
    files = {p.name: p.stat().st_mtime_ns for p in (project.cache_dir / "latents").iterdir()}
    assert len(files) == 3
    import torch

    second = create(project)
    assert {p.name: p.stat().st_mtime_ns for p in (project.cache_dir / "latents").iterdir()} == files
    for i in range(3):
        assert torch.equal(first.s.latent_cache.get(i), second.s.latent_cache.get(i))
    from tui_lora.demo.datasets import make_image

    make_image(999, (64, 64)).save(project.concepts()[0].images()[0])
    third = create(project)
    names = {p.name for p in (project.cache_dir / "latents").iterdir()}
    assert len(names) == 4 and set(files) < names
    assert not torch.equal(third.s.latent_cache.get(0), first.s.latent_cache.get(0))


def test_resumed_run_equals_an_uninterrupted_one_bitwise(tmp_path, tiny_sd15):
    import torch

    project = make_train_project(tmp_path / "p", tiny_sd15, images=4, size=[(64, 64), (128, 64)], settings={
        "training.max_train_epochs": 3, "training.lr_scheduler": "cosine_with_restarts",
        "training.lr_warmup_ratio": 0.2, "dataset.flip_aug": True, "dataset.caption_dropout_rate": 0.2,
        "training.noise_offset": 0.05, "dataset.shuffle_caption": True, "training.text_encoder_lr": 1e-4})
    full = create(project)
    full.fit()
    reference = full.lora_tensors("float")

    first = create(project)
    stopped = first.fit(until_step=5)  # mid-epoch 2 (2 steps per epoch… or more with buckets)
    assert stopped.stopped and stopped.path is None and first.state.global_step == 5
    state = first.state_dict()
    resumed = create(project)
    resumed.load_state_dict(state)
    assert resumed.state.global_step == 5
    result = resumed.fit()
    assert result.steps == full.state.global_step
    got = resumed.lora_tensors("float")
    assert got.keys() == reference.keys()
    assert all(torch.equal(got[k], reference[k]) for k in reference)
    # and a state from another network is refused in one sentence
    other = make_train_project(tmp_path / "q", tiny_sd15, images=2, settings={"network.network_dim": 2})
    with pytest.raises(UserError, match="does not match this network"):
        create(other).load_state_dict(state)


def test_cancel_and_epoch_hooks(tmp_path, tiny_sd15):
    import threading

    project = make_train_project(tmp_path / "p", tiny_sd15, images=2, settings={"training.max_train_epochs": 3,
                                                                               "training.train_batch_size": 1})
    cancel = threading.Event()
    trainer = create(project, cancel=cancel)
    seen = []

    def hook(t, epoch, last):
        seen.append((epoch, last, t.state.global_step))
        if epoch == 2:
            cancel.set()

    trainer.epoch_end_hooks.append(hook)
    result = trainer.fit()
    assert seen == [(1, False, 2), (2, False, 4)]
    assert result.stopped and result.steps == 4 and result.files == [project.epoch_file(1), project.epoch_file(2)]
    assert not project.final_file().exists()


def test_bad_images_and_missing_captions_do_not_stop_training(tmp_path, tiny_sd15):
    project = make_train_project(tmp_path / "p", tiny_sd15, images=4, repeats=3, settings={
        "dataset.cache_latents": False, "training.max_train_epochs": 2})
    images = project.concepts()[0].images()
    data = images[0].read_bytes()
    images[0].write_bytes(data[: len(data) // 2])  # header intact, pixels cut off
    images[1].with_suffix(".txt").unlink()
    (project.concepts()[0].path / "notes.png").write_bytes(b"not an image at all")
    trainer = create(project)
    assert trainer.s.captions[1] == "ohwx"  # the trigger word stands in for the missing caption
    result = trainer.fit()
    assert result.path.is_file()
    warnings = [str(w) for w in summarize(read_events(project.events_path)).warnings]
    corrupt = [w for w in warnings if images[0].name in w]
    assert len(corrupt) == 1 and "skipped" in corrupt[0]  # met in several steps, reported once
    assert any(images[1].name in w and "no caption file" in w and '"ohwx"' in w for w in warnings)
    assert any("notes.png is not a readable image" in w for w in warnings)


def test_unusable_settings_fail_in_one_sentence(tmp_path, tiny_sd15):
    empty = make_train_project(tmp_path / "e", tiny_sd15, images=0)
    with pytest.raises(UserError, match="The dataset has no images") as exc:
        create(empty)
    assert "\n" not in str(exc.value)
    project = make_train_project(tmp_path / "p", tiny_sd15, images=2, settings={
        "training.noise_offset": 0.1, "training.multires_noise_iterations": 6})
    with pytest.raises(UserError, match="cannot both be on"):
        create(project)
    with pytest.raises(UserError, match="Every learning rate is 0"):
        create(project, overrides=["training.noise_offset=0", "training.unet_lr=0", "training.text_encoder_lr=0"])
    with pytest.raises(UserError, match="network.dora works with lora and locon, not loha") as exc:
        create(project, overrides=["training.noise_offset=0", "network.network_type=loha", "network.dora=true"])
    assert "set network.dora = false" in str(exc.value) and "\n" not in str(exc.value)


def test_model_decides_family_and_v_prediction(tmp_path, tiny_sd15, tiny_sdxl):
    vpred = tmp_path / "vpred"
    shutil.copytree(tiny_sd15, vpred)
    cfg_path = vpred / "scheduler" / "scheduler_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["prediction_type"] = "v_prediction"
    cfg_path.write_text(json.dumps(cfg))
    project = make_train_project(tmp_path / "p", tiny_sd15, images=2)
    project.set("model.pretrained_model_name_or_path", str(vpred))
    project.set("model.v_parameterization", False)
    project.save()
    trainer = create(project)
    assert trainer.s.v_prediction and trainer.s.noise_scheduler.config.prediction_type == "v_prediction"
    assert trainer.s.metadata["modelspec.prediction_type"] == "v"
    from tui_lora.core.project import Project

    assert Project.load(project.root).get("model.v_parameterization") is True
    trainer.fit()

    project.set("model.pretrained_model_name_or_path", str(tiny_sdxl))
    project.save()
    trainer = create(project)
    assert trainer.s.family == "sdxl"
    assert Project.load(project.root).get("project.family") == "sdxl"
    warnings = [str(w) for w in summarize(read_events(project.events_path)).warnings]
    assert any("v-prediction" in w for w in warnings) and any("family" in w for w in warnings)


def test_sdxl_text_encoder_output_cache(tmp_path, tiny_sdxl):
    settings = {"dataset.shuffle_caption": False, "dataset.cache_text_encoder_outputs": True,
                "network.network_train_unet_only": True}
    project = make_train_project(tmp_path / "p", tiny_sdxl, family="sdxl", images=3, settings=settings)
    cached = create(project)
    assert cached.s.te_cache is not None and len(cached.s.te_cache) == 3
    plain = create(project, overrides=["dataset.cache_text_encoder_outputs=false"])
    assert plain.s.te_cache is None
    assert cached.eval_loss([0, 1], seed=4) == pytest.approx(plain.eval_loss([0, 1], seed=4), rel=1e-5)
    assert cached.fit().path.is_file()
    shuffled = create(project, overrides=["dataset.shuffle_caption=true"])
    assert shuffled.s.te_cache is None
    assert any("cache_text_encoder_outputs is ignored" in str(w) for w in shuffled.reporter.warnings)


def test_sdxl_size_and_crop_conditioning(tmp_path, tiny_sdxl):
    from tui_lora.core.train.data import BatchItem, sdxl_time_ids
    from tui_lora.core.train.layout import scan_layout

    project = make_train_project(tmp_path / "p", tiny_sdxl, family="sdxl", images=2, size=[(200, 100), (64, 64)],
                                 settings={"dataset.resolution": 128})
    layout = scan_layout(project.dataset_dir, project.settings["dataset"])
    i = next(n for n, e in enumerate(layout.entries) if e.size == (200, 100))
    p = layout.placements[i]
    ids = sdxl_time_ids(layout, [BatchItem(i, "", False), BatchItem(i, "", True)])
    assert ids[0].tolist() == [100, 200, p.crop_top, p.crop_left, p.bucket[1], p.bucket[0]]
    assert ids[1, 3].item() == p.resized[0] - p.bucket[0] - p.crop_left  # mirrored crop


def test_noise_and_loss_weights():
    import torch

    from tui_lora.core.train.noise import all_snr, make_noise, snr_weights, target_for, training_scheduler

    lat = torch.zeros(2, 4, 16, 16)
    a = make_noise(lat, torch.Generator().manual_seed(0), noise_offset=0.1)
    b = make_noise(lat, torch.Generator().manual_seed(0), noise_offset=0.1)
    assert torch.equal(a, b) and a.shape == lat.shape
    m = make_noise(lat, torch.Generator().manual_seed(0), multires_iterations=6, multires_discount=0.3)
    assert abs(m.std().item() - 1.0) < 1e-4
    sched = training_scheduler({}, v_prediction=True)
    snr = all_snr(sched.alphas_cumprod)
    t = torch.tensor([10, 500, 990])
    w = snr_weights(t, snr, 5.0, v_prediction=False)
    assert torch.allclose(w, torch.minimum(snr[t], torch.tensor(5.0)) / snr[t])
    assert w[0] < 1 and w[2] == 1  # low-noise steps are damped, high-noise steps untouched
    wv = snr_weights(t, snr, 5.0, v_prediction=True)
    assert torch.allclose(wv, torch.minimum(snr[t], torch.tensor(5.0)) / (snr[t] + 1))
    x, n = torch.randn(3, 4, 8, 8), torch.randn(3, 4, 8, 8)
    assert torch.allclose(target_for(sched, x, n, t, True), sched.get_velocity(x, n, t))
    assert target_for(sched, x, n, t, False) is n


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_with_clip_skip_and_text_encoder_on_the_cpu(tmp_path, tiny_sd15, precision):
    # CPU autocast does not run layer_norm in float32: clip skip's final norm once met a float32
    # input with bf16 weights there and failed with "mixed dtype".
    project = make_train_project(tmp_path / "p", tiny_sd15, images=2, settings={
        "training.mixed_precision": precision, "training.clip_skip": 2, "training.text_encoder_lr": 1e-4,
        "training.max_train_epochs": 0, "training.max_train_steps": 2, "training.train_batch_size": 2})
    result = create(project).fit()
    assert result.steps == 2 and result.path is not None and result.path.is_file()
