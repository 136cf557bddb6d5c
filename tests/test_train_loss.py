"""kohya's loss options (training.loss_type, huber_schedule, huber_c, huber_scale, debiased_estimation_loss,
ip_noise_gamma) and the zero-terminal-SNR schedule, against formulas written out here from kohya's
definitions (sd-scripts library/train_util.py get_huber_threshold_if_needed / conditional_loss,
custom_train_functions.py apply_debiased_estimation / fix_noise_scheduler_betas_for_zero_terminal_snr),
then in the trainer: each option changes the loss, lands in the file's metadata, and a resumed run
still equals an uninterrupted one bitwise."""

import io
import math

import pytest
import torch

from tui_lora.core.errors import UserError
from tui_lora.core.settings import TrainingSettings
from tui_lora.core.train import loss as L
from tui_lora.core.train.noise import all_snr, training_scheduler
from support.train import make_train_project, torch_threads

T = 1000


def sd_alphas_cumprod() -> list[float]:
    """SD's scaled-linear schedule, element by element: β_i = (√0.00085 + i/(T−1)·(√0.012 − √0.00085))²."""
    lo, hi = math.sqrt(0.00085), math.sqrt(0.012)
    out, prod = [], 1.0
    for i in range(T):
        beta = (lo + i / (T - 1) * (hi - lo)) ** 2
        prod *= 1 - beta
        out.append(prod)
    return out


def test_the_zero_terminal_snr_schedule_is_kohyas():
    """Lin et al. / kohya: shift √ᾱ so the last is 0, scale so the first is unchanged."""
    abar = sd_alphas_cumprod()
    s0, sT = math.sqrt(abar[0]), math.sqrt(abar[-1])
    expected = [((math.sqrt(a) - sT) * s0 / (s0 - sT)) ** 2 for a in abar]
    got = training_scheduler({}, v_prediction=True, zero_terminal_snr=True).alphas_cumprod
    assert got[-1].item() == 0.0
    assert max(abs(g - e) for g, e in zip(got.tolist(), expected)) < 1e-5
    plain = training_scheduler({}, v_prediction=True).alphas_cumprod
    assert max(abs(p - e) for p, e in zip(plain.tolist(), abar)) < 1e-5
    assert abs(got[0].item() - plain[0].item()) < 1e-7 and got[500] < plain[500]


def settings(**kw) -> TrainingSettings:
    return TrainingSettings(**kw)


@pytest.mark.parametrize("huber_c,scale", [(0.1, 1.0), (0.3, 2.0)])
def test_huber_thresholds_follow_kohyas_schedules(huber_c, scale):
    t = torch.tensor([0, 1, 250, 500, 999])
    abar = sd_alphas_cumprod()
    ac = torch.tensor(abar)
    # exponential: exp(−t · (−ln c) / T) · scale, i.e. c^(t/T) · scale
    got = L.huber_threshold("huber", "exponential", huber_c, scale, t, ac, T)
    assert torch.allclose(got, torch.tensor([huber_c ** (i / T) * scale for i in t.tolist()]), rtol=1e-5)
    # snr: (1 − c) / (1 + σ_t)² + c with σ_t = √((1 − ᾱ)/ᾱ); kohya leaves huber_scale out of it
    sig = [math.sqrt((1 - abar[i]) / abar[i]) for i in t.tolist()]
    got = L.huber_threshold("smooth_l1", "snr", huber_c, scale, t, ac, T)
    assert torch.allclose(got, torch.tensor([(1 - huber_c) / (1 + s) ** 2 + huber_c for s in sig]), rtol=1e-5)
    assert got[0] > 0.9 and abs(got[-1].item() - huber_c) < 0.01  # squared-error-like at low noise, robust at high
    got = L.huber_threshold("huber", "constant", huber_c, scale, t, ac, T)
    assert torch.allclose(got, torch.full((5,), huber_c * scale))
    assert L.huber_threshold("l2", "snr", huber_c, scale, t, ac, T) is None
    # at the zero-terminal-SNR end (ᾱ = 0) the snr schedule gives c, not NaN
    zt = training_scheduler({}, True, zero_terminal_snr=True).alphas_cumprod
    assert L.huber_threshold("huber", "snr", huber_c, 1.0, torch.tensor([999]), zt, T).item() == pytest.approx(huber_c)


def test_elementwise_losses_are_kohyas_formulas():
    g = torch.Generator().manual_seed(0)
    pred, target = torch.randn(2, 4, 3, 3, generator=g), torch.randn(2, 4, 3, 3, generator=g)
    c = torch.tensor([0.1, 0.7])
    d = (pred - target).flatten(1).tolist()
    for b in range(2):
        cb = c[b].item()
        huber = [2 * cb * (math.sqrt(x * x + cb * cb) - cb) for x in d[b]]
        smooth = [2 * (math.sqrt(x * x + cb * cb) - cb) for x in d[b]]
        got_h = L.elementwise_loss(pred, target, "huber", c)[b].flatten().tolist()
        got_s = L.elementwise_loss(pred, target, "smooth_l1", c)[b].flatten().tolist()
        assert max(abs(x - y) for x, y in zip(got_h, huber)) < 1e-5
        assert max(abs(x - y) for x, y in zip(got_s, smooth)) < 1e-5
    assert torch.equal(L.elementwise_loss(pred, target, "l2"), (pred - target) ** 2)
    assert torch.equal(L.elementwise_loss(pred, target, "l1"), (pred - target).abs())
    # Huber is quadratic below c (≈ d², l2's value) and linear above (≈ 2c|d|)
    small, big = torch.tensor([[0.05]]), torch.tensor([[50.0]])
    zero = torch.zeros(1, 1)
    assert L.elementwise_loss(small, zero, "huber", torch.tensor([1.0])).item() == pytest.approx(0.05 ** 2, rel=1e-3)
    assert L.elementwise_loss(big, zero, "huber", torch.tensor([0.1])).item() == pytest.approx(2 * 0.1 * 50, rel=1e-2)


def test_debiased_weights_and_the_snr_table_kohya_uses():
    abar = sd_alphas_cumprod()
    snr = all_snr(training_scheduler({}, False).alphas_cumprod)
    t = torch.tensor([0, 10, 500, 999])
    expect_eps = [1 / math.sqrt(min(abar[i] / (1 - abar[i]), 1000)) for i in t.tolist()]
    expect_v = [1 / (min(abar[i] / (1 - abar[i]), 1000) + 1) for i in t.tolist()]
    assert torch.allclose(L.debiased_weights(t, snr, False), torch.tensor(expect_eps), rtol=1e-4)
    assert torch.allclose(L.debiased_weights(t, snr, True), torch.tensor(expect_v), rtol=1e-4)
    # the whole loss: per-sample mean × sample weight × min-SNR × debiased, then the batch mean
    g = torch.Generator().manual_seed(1)
    pred, target = torch.randn(4, 4, 2, 2, generator=g), torch.randn(4, 4, 2, 2, generator=g)
    w = torch.tensor([1.0, 0.5, 1.0, 1.0])
    s = settings(loss_type="smooth_l1", huber_schedule="constant", huber_c=0.2, min_snr_gamma=5.0,
                 debiased_estimation_loss=True)
    ac = torch.tensor(abar)
    got = L.training_loss(pred, target, t, t=s, alphas_cumprod=ac, num_train_timesteps=T, snr_table=snr,
                          v_prediction=True, sample_weights=w)
    per = (2 * (((pred - target) ** 2 + 0.04).sqrt() - 0.2)).mean(dim=(1, 2, 3))
    snr_t = torch.tensor([abar[i] / (1 - abar[i]) for i in t.tolist()])
    min_snr = torch.minimum(snr_t, torch.tensor(5.0)) / (snr_t + 1)
    assert got.item() == pytest.approx((per * w * min_snr * torch.tensor(expect_v)).mean().item(), rel=1e-4)


# ----- in the trainer ------------------------------------------------------------------------------
@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    with torch_threads(1):
        yield


def create(project, overrides=()):
    from tui_lora.core.train.run import make_reporter
    from tui_lora.core.train.trainer import Trainer

    return Trainer.create(project, project.effective_settings(list(overrides)),
                          make_reporter(project, stream=io.StringIO()))


@pytest.mark.slow
def test_each_option_changes_the_loss_and_is_written_as_kohya_writes_it(tmp_path, tiny_sd15):
    project = make_train_project(tmp_path / "p", tiny_sd15, images=2)
    base = create(project).eval_loss([0, 1], seed=3)
    options = {
        "huber": ["training.loss_type=huber"],
        "smooth_l1": ["training.loss_type=smooth_l1", "training.huber_schedule=exponential"],
        "l1": ["training.loss_type=l1"],
        "debiased": ["training.debiased_estimation_loss=true"],
        "ip_noise": ["training.ip_noise_gamma=0.1"],
        "ztsnr": ["model.zero_terminal_snr=true"],
    }
    losses = {}
    for name, overrides in options.items():
        trainer = create(project, overrides)
        losses[name] = trainer.eval_loss([0, 1], seed=3)
        assert math.isfinite(losses[name]) and losses[name] != base, name
    assert create(project, ["training.huber_schedule=constant"]).eval_loss([0, 1], seed=3) == base  # l2 ignores it
    trainer = create(project, ["training.loss_type=huber", "training.huber_schedule=constant",
                               "training.huber_c=0.25", "training.huber_scale=2", "training.ip_noise_gamma=0.1",
                               "training.debiased_estimation_loss=true", "model.zero_terminal_snr=true",
                               "model.v_parameterization=true"])
    meta = trainer.s.metadata
    assert (meta["ss_loss_type"], meta["ss_huber_schedule"], meta["ss_huber_c"], meta["ss_huber_scale"]) == (
        "huber", "constant", "0.25", "2.0")
    assert meta["ss_ip_noise_gamma"] == "0.1" and meta["ss_debiased_estimation"] == "True"
    assert meta["ss_zero_terminal_snr"] == "True" and meta["modelspec.prediction_type"] == "v"
    assert trainer.s.noise_scheduler.config.rescale_betas_zero_snr
    assert trainer.s.noise_scheduler.alphas_cumprod[-1].item() == 0.0
    assert trainer.s.snr_table[-1].item() > 0  # kohya's table: the schedule before the rescale
    plain = create(project).s.metadata
    assert (plain["ss_loss_type"], plain["ss_huber_c"], plain["ss_ip_noise_gamma"],
            plain["ss_debiased_estimation"], plain["ss_zero_terminal_snr"]) == ("l2", "0.1", "None", "False", "False")


@pytest.mark.slow
@pytest.mark.parametrize("overrides", [
    ["training.loss_type=huber", "training.ip_noise_gamma=0.1", "training.debiased_estimation_loss=true"],
    ["training.loss_type=smooth_l1", "training.huber_schedule=exponential", "training.min_snr_gamma=5",
     "model.zero_terminal_snr=true", "model.v_parameterization=true"],
    ["training.loss_type=l1", "network.network_type=loha"],
    ["training.loss_type=huber", "training.huber_schedule=constant", "network.network_type=lokr"],
    ["network.network_type=locon", "network.dora=true"],
], ids=["huber_ip_debiased", "smooth_l1_ztsnr_vpred", "l1_loha", "huber_const_lokr", "locon_dora"])
def test_a_resumed_run_equals_an_uninterrupted_one_bitwise(tmp_path, tiny_sd15, overrides):
    project = make_train_project(tmp_path / "p", tiny_sd15, images=4, size=[(64, 64), (128, 64)], settings={
        "training.max_train_epochs": 2, "training.text_encoder_lr": 1e-4, "dataset.flip_aug": True})
    full = create(project, overrides)
    full.fit()
    reference = full.lora_tensors("float")
    first = create(project, overrides)
    first.fit(until_step=3)
    state = first.state_dict()
    resumed = create(project, overrides)
    resumed.load_state_dict(state)
    resumed.fit()
    got = resumed.lora_tensors("float")
    assert got.keys() == reference.keys()
    assert all(torch.equal(got[k], reference[k]) for k in reference)
    if "network.dora=true" in overrides:  # DoRA's magnitudes in the state, DoRA now off: refused
        with pytest.raises(UserError, match="does not match this network"):
            create(project, [o for o in overrides if "dora" not in o]).load_state_dict(state)
