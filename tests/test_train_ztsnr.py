"""v-prediction with zero terminal SNR (NoobAI-XL v-pred style): detected from the model (a diffusers
scheduler config, a single file's ``v_pred`` / ``ztsnr`` markers), printed by ``tui-lora new``, trained on
the rescaled schedule and sampled with the matching scheduler (trailing timesteps, rescaled betas, CFG
rescale) without NaN on the tiny SDXL model, with every sampler."""

import io
import json
import math
import shutil

import pytest
import torch

from tui_lora.core.events import read_events
from tui_lora.core.models import inspect_model
from tui_lora.core.registry import samplers
from support.train import make_train_project, torch_threads


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    with torch_threads(1):
        yield


@pytest.fixture(scope="module")
def vpred_ztsnr_sdxl(tiny_sdxl, tmp_path_factory):
    """The tiny SDXL with a v-prediction, zero-terminal-SNR scheduler config (as such diffusers repos ship)."""
    folder = tmp_path_factory.mktemp("models") / "tiny-sdxl-vpred-ztsnr"
    shutil.copytree(tiny_sdxl, folder)
    path = folder / "scheduler" / "scheduler_config.json"
    cfg = json.loads(path.read_text())
    cfg.update(prediction_type="v_prediction", rescale_betas_zero_snr=True, timestep_spacing="trailing")
    path.write_text(json.dumps(cfg))
    return folder


def test_detected_from_a_diffusers_folder_and_printed_by_new(vpred_ztsnr_sdxl, tiny_sdxl, run_cli, tmp_path):
    info = inspect_model(str(vpred_ztsnr_sdxl))
    assert (info.v_prediction, info.zero_terminal_snr) == (True, True)
    assert inspect_model(str(tiny_sdxl)).zero_terminal_snr is False
    r = run_cli("new", tmp_path / "p", "--preset", "sdxl-character", "--base-model", vpred_ztsnr_sdxl)
    assert r.returncode == 0, r.stderr
    assert "Detected from the model: v-prediction, zero terminal SNR" in r.stdout
    from tui_lora.core.project import Project

    project = Project.load(tmp_path / "p")
    assert project.get("model.v_parameterization") is True and project.get("model.zero_terminal_snr") is True
    assert project.get("sample.guidance_rescale") == 0.7
    r = run_cli("new", tmp_path / "q", "--preset", "sdxl-character", "--base-model", tiny_sdxl, "--json")
    data = json.loads(r.stdout)
    assert (data["zero_terminal_snr"], data["v_parameterization"]) == (False, False)
    assert data["detected"] == "epsilon prediction"


def test_detected_from_a_single_files_markers(tmp_path, tiny_sd15):
    from tui_lora.core.train.model import load_base_model
    from support.single_file import save_single_file

    marked = save_single_file(tiny_sd15, tmp_path / "noob-vpred.safetensors",
                              extra={"v_pred": torch.tensor([]), "ztsnr": torch.tensor([])})
    info = inspect_model(str(marked))
    assert (info.v_prediction, info.zero_terminal_snr) == (True, True)
    assert info.detected_text() == "v-prediction, zero terminal SNR"
    base = load_base_model(str(marked), single_file_config=str(tiny_sd15))
    assert (base.v_prediction, base.zero_terminal_snr) == (True, True)
    plain = save_single_file(tiny_sd15, tmp_path / "plain.safetensors")
    assert inspect_model(str(plain)).zero_terminal_snr is None
    assert load_base_model(str(plain), single_file_config=str(tiny_sd15)).zero_terminal_snr is None


@pytest.mark.slow
def test_a_vpred_ztsnr_run_trains_and_samples_without_nan(tmp_path, vpred_ztsnr_sdxl):
    from tui_lora.core.project import Project
    from tui_lora.core.train.pipeline import build_pipeline, encode_pair, make_scheduler
    from tui_lora.core.train.run import make_reporter
    from tui_lora.core.train.sampling import TrainingSampler
    from tui_lora.core.train.trainer import Trainer

    project = make_train_project(tmp_path / "p", vpred_ztsnr_sdxl, family="sdxl", images=2, settings={
        "training.max_train_epochs": 2, "sample.sample_every_n_epochs": 1, "sample.guidance_rescale": 0.7,
        "training.min_snr_gamma": 5.0, "training.unet_lr": 1e-3,
        "sample.prompts": ["ohwx, smile --w 64 --h 64 --s 3 --ss euler_a --l 7"]})
    project.set("model.v_parameterization", False)
    project.set("model.zero_terminal_snr", False)
    project.save()
    settings = project.effective_settings()
    reporter = make_reporter(project, stream=io.StringIO())
    trainer = Trainer.create(project, settings, reporter)
    s = trainer.s
    # the model decides: v-prediction and zero terminal SNR, written back to project.toml
    assert s.v_prediction and s.settings.model.zero_terminal_snr
    saved = Project.load(project.root)
    assert saved.get("model.v_parameterization") is True and saved.get("model.zero_terminal_snr") is True
    assert s.noise_scheduler.config.rescale_betas_zero_snr and s.noise_scheduler.alphas_cumprod[-1].item() == 0
    TrainingSampler.from_settings(project, s.settings).attach(trainer)
    result = trainer.fit()
    assert result.path.is_file() and math.isfinite(result.loss)
    events = read_events(project.events_path)
    assert [e["epoch"] for e in events if e["event"] == "sample"] == [1, 2]
    assert not [e for e in events if e["event"] == "warning" and "ample" in e["message"]]
    assert s.metadata["ss_zero_terminal_snr"] == "True" and s.metadata["modelspec.prediction_type"] == "v"

    # the scheduler sampling builds, for every sampler: rescaled (or given) betas, trailing timesteps from
    # the last one, and finite latents out of the trained UNet with CFG rescale
    encoders = s.text.text_encoders
    pos, neg = encode_pair("sdxl", s.text.tokenizers, encoders, 1, "ohwx, smile", "")
    for name in dict.fromkeys(e.scheduler + str(dict(e.config)) for e in samplers.SAMPLERS.values()):
        entry = next(e for e in samplers.SAMPLERS.values() if e.scheduler + str(dict(e.config)) == name)
        sched = make_scheduler(entry.name, s.base.scheduler_config, v_prediction=True, zero_terminal_snr=True)
        if "rescale_betas_zero_snr" in sched.config:
            assert sched.config.rescale_betas_zero_snr, entry.name
        else:
            assert sched.alphas_cumprod[-1].item() == pytest.approx(2.0 ** -24), entry.name
        if "timestep_spacing" in sched.config and not sched.config.get("use_karras_sigmas"):
            sched.set_timesteps(3)
            assert int(sched.timesteps[0]) == 999, entry.name
        pipe = build_pipeline("sdxl", unet=s.unet, vae=s.vae, text_encoders=encoders, tokenizers=s.text.tokenizers,
                              scheduler=sched)
        with torch.no_grad():
            latents = pipe(prompt_embeds=pos.hidden, negative_prompt_embeds=neg.hidden,
                           pooled_prompt_embeds=pos.pooled, negative_pooled_prompt_embeds=neg.pooled,
                           num_inference_steps=3, guidance_scale=7.0, guidance_rescale=0.7, width=64, height=64,
                           generator=torch.Generator().manual_seed(0), output_type="latent").images
        assert torch.isfinite(latents).all() and latents.abs().max() < 1e3, entry.name
