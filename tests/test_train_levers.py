"""The speed levers of [training] (issue 18) on the CPU with the tiny models: each lever on gives the
loss curve of the levers off; resume stays bitwise with them; the LoRA file is unchanged; the
low-VRAM path (8-bit base weights) trains and saves a normal file; the planner knows each lever."""

import io
import shutil

import pytest
import torch
from safetensors import safe_open

from tui_lora.core.events import read_events
from support.train import make_train_project, torch_threads

# Every speed lever off: the reference curve.
OFF = {"training.allow_tf32": False, "training.fused_optimizer": False, "training.channels_last": False,
       "training.torch_compile": "off"}
# A run where the LoRA moves the loss (a high rate) and the text encoder trains too (two param groups).
BASE = {"training.max_train_epochs": 2, "training.train_batch_size": 1, "training.unet_lr": 1e-2,
        "training.text_encoder_lr": 1e-3, "training.lr_scheduler": "constant", "training.min_snr_gamma": 5.0,
        "dataset.shuffle_caption": False, "output.save_precision": "float"}
# Keys whose values differ between any two runs (when, which session), not between levers.
RUN_KEYS = {"ss_session_id", "ss_training_started_at", "ss_training_finished_at", "modelspec.date"}
HASH_KEYS = {"sshs_model_hash", "sshs_legacy_hash"}  # of the weights: equal only for equal weights


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    with torch_threads(1):
        yield


def create(project, overrides=()):
    """A Trainer; its progress lines are in ``trainer.out``."""
    from tui_lora.core.train.run import make_reporter
    from tui_lora.core.train.trainer import Trainer

    out = io.StringIO()
    trainer = Trainer.create(project, project.effective_settings(list(overrides)), make_reporter(project, stream=out))
    trainer.out = out
    return trainer


def trained(root, model, settings, *, family="sd15", read_seconds=None, images=2):
    """(trainer, step losses from events.jsonl, events) of a finished run."""
    project = make_train_project(root, model, family=family, images=images, settings={**BASE, **settings})
    trainer = create(project)
    if read_seconds is not None:
        trainer.pending.seconds = read_seconds
    trainer.fit()
    events = read_events(project.events_path)
    return trainer, [e["loss"] for e in events if e["event"] == "step"], events


def file_format(path, *, hashes=True):
    """(key → (shape, dtype), metadata without the per-run keys) of a LoRA file."""
    drop = RUN_KEYS if hashes else RUN_KEYS | HASH_KEYS
    with safe_open(str(path), "pt") as f:
        shapes = {k: (tuple(f.get_slice(k).get_shape()), f.get_slice(k).get_dtype()) for k in f.keys()}
        meta = {k: v for k, v in (f.metadata() or {}).items() if k not in drop}
    return shapes, meta


@pytest.fixture(scope="module")
def reference(tmp_path_factory, tiny_sd15):
    return trained(tmp_path_factory.mktemp("ref") / "p", tiny_sd15, OFF)


@pytest.mark.parametrize("lever", ["allow_tf32", "fused_optimizer", "channels_last", "loss_reads"])
def test_each_lever_keeps_the_loss_curve_and_the_file(tmp_path, tiny_sd15, reference, lever):
    ref_trainer, ref_losses, ref_events = reference
    settings = dict(OFF)
    if lever != "loss_reads":
        settings[f"training.{lever}"] = True
    trainer, losses, events = trained(tmp_path / "p", tiny_sd15, settings,
                                      read_seconds=3600 if lever == "loss_reads" else None)
    assert len(losses) == len(ref_losses) == trainer.s.total_steps == 4
    exact = lever in ("allow_tf32", "loss_reads")
    if exact:
        assert losses == ref_losses  # TF32 does nothing on the CPU; reading later reads the same numbers
    else:
        assert losses == pytest.approx(ref_losses, rel=1e-4)
    if lever == "fused_optimizer":  # torch's fused AdamW step runs on the CPU too (torch 2.4+)
        assert all(g["fused"] for g in trainer.s.optimizer.param_groups)
        assert not any(g["fused"] or g["foreach"] for g in ref_trainer.s.optimizer.param_groups)
    if lever == "loss_reads":
        # losses waited on the device for the whole epoch: every step still has its event, before the save
        kinds = [e["event"] for e in events]
        assert [e["step"] for e in events if e["event"] == "step"] == [1, 2, 3, 4]
        assert kinds.index("save") == kinds.index("step") + 2
        assert [e["avg_loss"] for e in events if e["event"] == "step"] == \
            [e["avg_loss"] for e in ref_events if e["event"] == "step"]
    # the same keys, shapes, dtypes and metadata (the weights' hashes too where the weights are equal)
    assert file_format(trainer.s.project.final_file(), hashes=exact) == \
        file_format(ref_trainer.s.project.final_file(), hashes=exact)


def test_resume_is_bitwise_with_the_speed_levers_and_a_changed_lever_may_resume(tmp_path, tiny_sd15):
    from tui_lora.core.train.checkpoint import read_checkpoint, write_checkpoint
    from tui_lora.core.train.record import settings_changes

    on = {"training.allow_tf32": True, "training.fused_optimizer": True, "training.channels_last": True}
    whole, _, _ = trained(tmp_path / "whole", tiny_sd15, on, read_seconds=3600)

    project = make_train_project(tmp_path / "p", tiny_sd15, images=2, settings={**BASE, **on})
    first = create(project)
    first.pending.seconds = 3600
    assert first.fit(until_step=3).stopped
    write_checkpoint(tmp_path / "state.pt", first.state_dict())  # as a stop writes it, read back per resume
    second = create(project)
    second.pending.seconds = 3600
    second.load_state_dict(read_checkpoint(tmp_path / "state.pt"))
    second.fit()
    a = whole.lora_tensors("float")
    b = second.lora_tensors("float")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)

    # resuming with another step kernel: allowed, and the resumed run uses this run's kernel
    changed = project.effective_settings(["training.fused_optimizer=false", "training.channels_last=false",
                                          "training.torch_compile=blocks", "training.allow_tf32=false"])
    assert settings_changes(project.effective_settings(), changed) == []
    assert settings_changes(project.effective_settings(), project.effective_settings(["training.fp8_base=true"]))
    third = create(project, ["training.fused_optimizer=false"])
    third.load_state_dict(read_checkpoint(tmp_path / "state.pt"))
    assert not any(g["fused"] or g["foreach"] for g in third.s.optimizer.param_groups)
    third.fit()
    c = third.lora_tensors("float")
    assert all(torch.allclose(a[k], c[k], rtol=1e-4, atol=1e-6) for k in a)


def test_a_run_recorded_before_a_key_existed_resumes_with_its_default():
    from tui_lora.core.settings import Settings
    from tui_lora.core.train.record import settings_changes

    old = Settings().to_dict()
    del old["training"]["fp8_base"], old["training"]["low_vram"]
    assert settings_changes(old, Settings()) == []
    assert settings_changes(old, Settings().with_values({"training.fp8_base": True})) == \
        [("training.fp8_base", False, True)]


def test_low_vram_trains_sdxl_in_8_bits_and_saves_a_normal_file(tmp_path, tiny_sdxl):
    from tui_lora.core.train.lowbit import is_8bit

    xl = {**OFF, "network.network_train_unet_only": True, "training.text_encoder_lr": 0.0,
          "training.optimizer_type": "AdamW", "training.gradient_checkpointing": False}
    ref, ref_losses, _ = trained(tmp_path / "ref", tiny_sdxl, xl, family="sdxl")
    low, losses, events = trained(tmp_path / "low", tiny_sdxl, {**xl, "training.low_vram": True}, family="sdxl")
    t = low.s.settings.training
    assert t.fp8_base and t.gradient_checkpointing and t.optimizer_type == "AdamW8bit"
    stored = [m for m in low.s.unet.modules() if is_8bit(m)]
    assert len(stored) > 20
    assert all(m.parametrizations.weight.original.dtype == torch.float8_e4m3fn for m in stored)
    assert all(torch.isfinite(torch.tensor(losses)))
    assert losses == pytest.approx(ref_losses, rel=0.05)  # fp8 rounds the base weights, not the curve
    assert "low_vram: training.fp8_base = true, training.optimizer_type = AdamW8bit, " \
           "training.gradient_checkpointing = true" in low.out.getvalue()
    assert "the UNet's weights are stored in fp8" in low.out.getvalue()
    ref_format = file_format(ref.s.project.final_file(), hashes=False)
    low_format = file_format(low.s.project.final_file(), hashes=False)
    assert ref_format[0] == low_format[0] and ref_format[1].keys() == low_format[1].keys()
    assert low_format[1]["ss_gradient_checkpointing"] == "True"
    from diffusers import StableDiffusionXLPipeline

    pipe = StableDiffusionXLPipeline.from_pretrained(tiny_sdxl)
    pipe.load_lora_weights(str(low.s.project.final_file()))
    assert any("lora" in k for k in pipe.unet.state_dict())


def test_int8_storage_trains_on_the_cpu(tmp_path, tiny_sdxl):
    """The int8 format (GPUs without fp8) through bitsandbytes' quantizer, on the trainer's UNet."""
    from tui_lora.core.train.lowbit import is_8bit, storage_format, store_8bit

    assert storage_format("cuda", (8, 6)) == "int8" and storage_format("cuda", (7, 5)) == "int8"
    assert storage_format("cuda", (8, 9)) == "fp8" == storage_format("cuda", (9, 0)) == storage_format("cpu")
    project = make_train_project(tmp_path / "p", tiny_sdxl, family="sdxl", images=2, settings={
        **BASE, **OFF, "network.network_train_unet_only": True, "training.text_encoder_lr": 0.0,
        "training.gradient_checkpointing": True})
    trainer = create(project)
    before = trainer.eval_loss([0, 1], seed=3)
    lora = {id(p) for p in trainer.s.params}
    full, small = store_8bit(trainer.s.unet, "int8", torch.float32)
    assert small < 0.3 * full  # int8 plus one fp32 scale per output channel, from fp32
    stored = [m for m in trainer.s.unet.modules() if is_8bit(m)]
    assert stored and all(m.parametrizations.weight.original.dtype == torch.int8 for m in stored)
    assert all(id(p) in lora for p in trainer.s.unet.parameters() if p.requires_grad)
    assert trainer.eval_loss([0, 1], seed=3) == pytest.approx(before, rel=0.02)
    result = trainer.fit()
    assert result.path.is_file() and result.loss is not None and torch.isfinite(torch.tensor(result.loss))
    assert any(float(m.up.detach().abs().max()) > 0 for m in trainer.s.modules)  # the LoRA learned


def test_sd15_text_encoder_output_cache(tmp_path, tiny_sd15):
    settings = {"dataset.shuffle_caption": False, "dataset.cache_text_encoder_outputs": True,
                "network.network_train_unet_only": True, "training.clip_skip": 2}
    project = make_train_project(tmp_path / "p", tiny_sd15, images=3, settings=settings)
    cached = create(project)
    assert cached.s.te_cache is not None and len(cached.s.te_cache) == 3
    assert next(iter(cached.s.te_cache.values()))[1] is None  # SD1.x has no pooled output
    plain = create(project, ["dataset.cache_text_encoder_outputs=false"])
    assert plain.s.te_cache is None
    assert cached.eval_loss([0, 1], seed=4) == pytest.approx(plain.eval_loss([0, 1], seed=4), rel=1e-6)
    assert cached.fit().path.is_file()


def _micro_sd15(tiny_sd15, root):
    """tiny_sd15 with a one-level UNet: few distinct blocks, so inductor compiles in about a minute."""
    from diffusers import UNet2DConditionModel

    model = root / "micro-sd15"
    shutil.copytree(tiny_sd15, model)
    shutil.rmtree(model / "unet")
    torch.manual_seed(0)
    UNet2DConditionModel(sample_size=8, block_out_channels=(32,), layers_per_block=1, norm_num_groups=8,
                         down_block_types=("CrossAttnDownBlock2D",), up_block_types=("CrossAttnUpBlock2D",),
                         cross_attention_dim=32, attention_head_dim=4).save_pretrained(model / "unet")
    return model


@pytest.mark.slow
def test_compiled_blocks_give_the_eager_loss_curve(tmp_path, tiny_sd15):
    model = _micro_sd15(tiny_sd15, tmp_path)
    settings = {**OFF, "training.max_train_epochs": 0, "training.max_train_steps": 3,
                "network.network_train_unet_only": True, "training.text_encoder_lr": 0.0,
                "training.gradient_checkpointing": True}  # compiled blocks run inside checkpointed segments
    _, eager, _ = trained(tmp_path / "eager", model, settings, images=1)
    compiled, losses, _ = trained(tmp_path / "compiled", model, {**settings, "training.torch_compile": "blocks"},
                                  images=1)
    blocks = [m for m in compiled.s.unet.modules() if type(m).__name__ in ("BasicTransformerBlock", "ResnetBlock2D")]
    assert blocks and all(getattr(m, "_compiled_call_impl", None) is not None for m in blocks)
    assert losses == pytest.approx(eager, rel=1e-3)


def test_the_optimizer_step_kernel():
    from tui_lora.core.registry import optimizers
    from tui_lora.core.train.optim import step_kernel

    adamw = optimizers.get("AdamW")
    assert step_kernel(adamw, {}, device_type="cuda", fused=True) == {"fused": True}
    assert step_kernel(adamw, {}, device_type="cpu", fused=True) == {"fused": True}  # torch 2.4+
    assert step_kernel(adamw, {}, device_type="meta", fused=True) == {"foreach": True}  # no fused kernel there
    assert step_kernel(adamw, {}, device_type="cuda", fused=False) == {"fused": False, "foreach": False}
    assert step_kernel(adamw, {"foreach": False}, device_type="cuda", fused=True) == {}  # optimizer_args win
    for name in ("AdamW8bit", "Prodigy", "Lion", "Adafactor"):  # they keep their own step
        assert step_kernel(optimizers.get(name), {}, device_type="cuda", fused=True) == {}


def test_tf32_is_set_on_cuda_only_and_keeps_torch_precision_readable():
    from tui_lora.core.train.levers import set_tf32

    before = torch.get_float32_matmul_precision()
    try:
        assert not set_tf32("cpu", True) and torch.get_float32_matmul_precision() == before
        assert set_tf32("cuda", True)  # the switches exist without a GPU
        assert torch.get_float32_matmul_precision() == "high"  # readable: inductor's autotuning reads it
        assert torch.backends.cudnn.conv.fp32_precision == "tf32"
        set_tf32("cuda", False)
        assert torch.get_float32_matmul_precision() == "highest"
        assert torch.backends.cudnn.conv.fp32_precision == "ieee"
    finally:
        torch.set_float32_matmul_precision(before)
        torch.backends.cudnn.conv.fp32_precision = "tf32"  # torch's default


def test_host_sync_helpers():
    from tui_lora.core.train.hostsync import PendingLosses, StepFacts, first_bad, read_seconds, take_rows

    x = torch.arange(12).reshape(6, 2)
    assert take_rows(x, [0, 1, 2, 3, 4, 5]) is x
    assert torch.equal(take_rows(x, [1, 3, 5]), x[[1, 3, 5]])  # one process's share of a global batch
    assert torch.equal(take_rows(x, [2]), x[[2]]) and torch.equal(take_rows(x, [0, 4, 5]), x[[0, 4, 5]])
    assert read_seconds("cuda", 1) > 0 and read_seconds("cpu", 1) == 0 == read_seconds("cuda", 2)
    pending = PendingLosses(3600)
    assert not pending.due()
    for step, v in enumerate([0.5, float("nan"), 0.25], 1):
        pending.add(StepFacts(step, 1, 1e-4, None, None), torch.tensor(v))
    assert not pending.due() and len(pending) == 3
    read = pending.read()
    assert [f.step for f, _ in read] == [1, 2, 3] and read[0][1] == 0.5 and first_bad([v for _, v in read]) == 1
    assert len(pending) == 0 and PendingLosses(0).due()  # reading every step: due even when empty (DDP)


def test_the_vram_estimate_knows_each_lever():
    from tui_lora.core.plan import PlanInput, vram_for
    from tui_lora.core.settings import Settings
    from tui_lora.core.vram import estimate_vram

    xl = {"family": "sdxl", "resolution": 1024, "batch_size": 1, "network_dim": 8, "train_text_encoder": False,
          "mixed_precision": "bf16", "gradient_checkpointing": True, "optimizer": "AdamW8bit"}
    plain = estimate_vram(**xl)
    fp8 = estimate_vram(**xl, fp8_base=True)
    cached = estimate_vram(**xl, text_encoders_cached=True)
    assert fp8.parts["weights"] < plain.parts["weights"] - 2.0 and fp8.parts["fp8_widen"] > 0
    assert cached.parts["weights"] < plain.parts["weights"] - 1.0

    s = Settings().with_values({"project.family": "sdxl", "dataset.resolution": 1024, "network.network_dim": 8,
                                "network.network_train_unet_only": True, "dataset.shuffle_caption": False})
    base = vram_for(PlanInput.from_settings(s)).total_gb
    speed = {"training.allow_tf32": False, "training.fused_optimizer": False, "training.torch_compile": "blocks",
             "training.channels_last": True}
    assert [vram_for(PlanInput.from_settings(s.with_values({k: v}))).total_gb for k, v in speed.items()] == [base] * 4
    cached = PlanInput.from_settings(s.with_values({"dataset.cache_text_encoder_outputs": True}))
    assert cached.text_encoders_cached and vram_for(cached).total_gb < base - 1.0
    shuffled = s.with_values({"dataset.cache_text_encoder_outputs": True, "dataset.shuffle_caption": True})
    assert not PlanInput.from_settings(shuffled).text_encoders_cached  # the trainer cannot cache: no saving

    s = s.with_values({"training.optimizer_type": "AdamW", "training.low_vram": True,
                       "training.gradient_checkpointing": False})
    low = PlanInput.from_settings(s)
    assert low.fp8_base and low.gradient_checkpointing and low.optimizer == "AdamW8bit"
    normal = vram_for(PlanInput.from_settings(s.with_values({"training.low_vram": False})))
    assert vram_for(low).total_gb < normal.total_gb - 5  # checkpointing, 8-bit weights and states
    alone = PlanInput.from_settings(s.with_values({"training.low_vram": False, "training.fp8_base": True}))
    assert alone.gradient_checkpointing and alone.optimizer == "AdamW"  # fp8_base brings checkpointing only
