"""Sample images during training on the tiny models: the right epochs, `sample` events, images of the
asked size with webui's PNG info, the same LoRA as a run without samples, and failures that only warn."""

import io

import pytest
from PIL import Image
from safetensors.torch import load_file

from tui_lora.core.errors import UserError
from tui_lora.core.events import read_events, summarize
from tui_lora.core.settings import SAMPLERS
from support.train import make_train_project, torch_threads


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    with torch_threads(1):
        yield


def train(project, **kw):
    from tui_lora.core.train.run import train_project

    return train_project(project, stream=io.StringIO(), **kw)


SAMPLING = {
    "training.max_train_epochs": 3,
    "output.save_every_n_epochs": 1,
    "sample.sample_every_n_epochs": 2,
    "sample.sample_at_first": True,
    "sample.prompts": ["ohwx, smile --n lowres --w 64 --h 96 --s 2 --ss dpmsolver++ --l 5"],
    "sample.prompt_file": "prompts.txt",
}


def test_samples_at_the_right_epochs_and_the_lora_is_unchanged(tmp_path, tiny_sd15):
    project = make_train_project(tmp_path / "with", tiny_sd15, images=2, settings=SAMPLING)
    (project.root / "prompts.txt").write_text("# from the file\nohwx --s 2 --w 64 --h 64\n", encoding="utf-8")
    result = train(project)
    events = read_events(project.events_path)
    samples = [e for e in events if e["event"] == "sample"]
    # before training (0), every 2nd epoch (2) and after the final save (3); two prompts each
    assert [(e["epoch"], e["path"]) for e in samples] == [
        (epoch, str(project.samples_dir / f"{project.output_name}_e{epoch:06d}_{i:02d}.png"))
        for epoch in (0, 2, 3) for i in (0, 1)]
    kinds = [e["event"] for e in events]
    assert kinds.index("start") < kinds.index("sample") < kinds.index("step")
    assert kinds[-1] == "done" and summarize(events).samples == samples
    assert not [e for e in events if e["event"] == "warning" and "ample" in e["message"]]
    with Image.open(samples[0]["path"]) as im:
        assert im.size == (64, 96)
        info = im.text["parameters"]
    assert info.startswith("ohwx, smile\nNegative prompt: lowres\n")
    assert "Steps: 2, Sampler: DPM++ 2M Karras, CFG scale: 5, Seed: 42, Size: 64x96" in info  # training.seed
    with Image.open(samples[1]["path"]) as im:
        info = im.text["parameters"]
        assert im.size == (64, 64) and "Sampler: Euler a" in info and "Seed: 43," in info
    # the model changed between epoch 0 and 3, and the samples show it (same seed, same prompt)
    with Image.open(samples[0]["path"]) as a, Image.open(samples[4]["path"]) as b:
        assert a.tobytes() != b.tobytes()

    # The same training without samples ends with bit-identical LoRA files.
    plain = make_train_project(tmp_path / "without", tiny_sd15, images=2,
                               settings={**SAMPLING, "sample.sample_every_n_epochs": 0, "sample.sample_at_first": False,
                                         "sample.prompt_file": ""})
    result_plain = train(plain)
    assert not list(plain.samples_dir.iterdir())
    assert len(result.files) == len(result_plain.files) == 3
    for a, b in zip(result.files, result_plain.files):
        ta, tb = load_file(str(a)), load_file(str(b))
        assert ta.keys() == tb.keys()
        assert all(ta[k].equal(tb[k]) for k in ta), a.name


def test_sdxl_samples_with_cached_latents_and_text_encoder_outputs(tmp_path, tiny_sdxl):
    project = make_train_project(tmp_path / "p", tiny_sdxl, family="sdxl", images=2, settings={
        "dataset.cache_latents": True, "dataset.cache_text_encoder_outputs": True,
        "dataset.shuffle_caption": False, "dataset.caption_dropout_rate": 0.0,
        "network.network_train_unet_only": True, "training.max_token_length": 150,
        "sample.sample_every_n_epochs": 1, "sample.sample_at_first": True, "sample.sampler": "ddim",
        "sample.prompts": ["ohwx --s 2 --w 96 --h 64"]})
    result = train(project)
    events = read_events(project.events_path)
    assert not [e for e in events if e["event"] == "warning" and "ample" in e["message"]]
    samples = [e for e in events if e["event"] == "sample"]
    assert [e["epoch"] for e in samples] == [0, 1]
    with Image.open(samples[-1]["path"]) as im:
        assert im.size == (96, 64) and "Sampler: DDIM" in im.text["parameters"]
    assert result.path.is_file()


def test_a_failing_sample_is_a_warning_and_training_goes_on(tmp_path, tiny_sd15):
    project = make_train_project(tmp_path / "p", tiny_sd15, images=1, settings={
        "training.max_train_epochs": 2, "sample.sample_every_n_epochs": 1, "sample.prompts": ["ohwx --s 1"]})
    project.samples_dir.rmdir()
    project.samples_dir.write_text("not a folder")  # every image write fails
    result = train(project)
    assert result.path.is_file() and result.epochs == 2
    events = read_events(project.events_path)
    warnings = [e["message"] for e in events if e["event"] == "warning" and "Sample" in e["message"]]
    assert len(warnings) == 1, warnings  # the same failure is reported once, not every epoch
    assert warnings[0].startswith("Sample prompt 1 failed at epoch 1 (") and warnings[0].endswith("training goes on.")
    assert not [e for e in events if e["event"] == "sample"]
    assert summarize(events).state == "finished"


def test_bad_prompt_lines_stop_the_run_before_it_starts(tmp_path, tiny_sd15):
    project = make_train_project(tmp_path / "p", tiny_sd15, images=1, settings={
        "sample.sample_every_n_epochs": 1, "sample.prompts": ["ohwx --size 512"]})
    with pytest.raises(UserError, match=r"sample.prompts line 1: --size is not a sample option"):
        train(project)
    events = read_events(project.events_path)
    assert [e["event"] for e in events] == ["error"]


def test_sampling_on_without_prompts_warns(tmp_path, tiny_sd15):
    from tui_lora.core.train.sampling import TrainingSampler

    project = make_train_project(tmp_path / "p", tiny_sd15, images=1, settings={"sample.sample_every_n_epochs": 1})
    said = []
    assert TrainingSampler.from_settings(project, project.effective_settings(), said.append) is None
    assert len(said) == 1 and "no sample prompts" in said[0]
    off = make_train_project(tmp_path / "q", tiny_sd15, images=1, settings={"sample.prompts": ["ohwx"]})
    assert TrainingSampler.from_settings(off, off.effective_settings(), said.append) is None and len(said) == 1


@pytest.mark.parametrize("v_prediction", [False, True])
def test_every_kohya_sampler_maps_to_a_diffusers_scheduler(v_prediction):
    from tui_lora.core.train.pipeline import make_scheduler, sampler_label

    base = {"num_train_timesteps": 1000, "beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear",
            "steps_offset": 1, "skip_prk_steps": True, "_class_name": "PNDMScheduler"}
    expected = {"ddim": "DDIMScheduler", "pndm": "PNDMScheduler", "lms": "LMSDiscreteScheduler",
                "euler": "EulerDiscreteScheduler", "euler_a": "EulerAncestralDiscreteScheduler",
                "heun": "HeunDiscreteScheduler", "dpm_2": "KDPM2DiscreteScheduler",
                "dpm_2_a": "KDPM2AncestralDiscreteScheduler", "dpmsolver": "DPMSolverMultistepScheduler",
                "dpmsolver++": "DPMSolverMultistepScheduler", "dpmsingle": "DPMSolverSinglestepScheduler"}
    for name in SAMPLERS:
        sched = make_scheduler(name, base, v_prediction=v_prediction)
        assert type(sched).__name__ == expected[name.removeprefix("k_")], name
        assert sched.config.prediction_type == ("v_prediction" if v_prediction else "epsilon")
        assert sched.config.beta_schedule == "scaled_linear" and sched.config.beta_end == 0.012
        sched.set_timesteps(4)  # usable as configured
        assert sampler_label(name)
    karras = make_scheduler("dpmsolver++", base, v_prediction=v_prediction)
    assert karras.config.algorithm_type == "dpmsolver++" and karras.config.solver_order == 2
    assert karras.config.use_karras_sigmas and sampler_label("dpmsolver++") == "DPM++ 2M Karras"
    assert make_scheduler("dpmsolver", base, v_prediction=False).config.algorithm_type == "dpmsolver"


def test_preserved_rng_puts_every_generator_back():
    import random

    import numpy as np
    import torch

    from tui_lora.core.train.pipeline import preserved_rng

    def draw():
        return random.random(), float(np.random.rand()), float(torch.rand(1))

    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    expected = draw()
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    with preserved_rng():
        draw(), draw()
    assert draw() == expected
