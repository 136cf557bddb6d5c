"""Optimizers by kohya's names (with their install hints) and the learning-rate schedules."""

import math
import sys

import pytest
import torch

from tui_lora.core.errors import ConfigError, UserError
from tui_lora.core.train import optim
from tui_lora.core.train.optim import build_optimizer, build_scheduler, parse_optimizer_args


def params():
    torch.manual_seed(0)
    return [torch.nn.Parameter(torch.randn(64, 64)), torch.nn.Parameter(torch.randn(64))]


def one_step(opt, ps):
    before = [p.detach().clone() for p in ps]
    for p in ps:
        p.grad = torch.ones_like(p)
    opt.step()
    return any(not torch.equal(b, p) for b, p in zip(before, ps))


@pytest.mark.parametrize("name,expect", [
    ("AdamW", "torch.optim.adamw.AdamW"),
    ("Lion", "bitsandbytes.optim.lion.Lion"),
    ("Adafactor", "transformers.optimization.Adafactor"),
])
def test_each_optimizer_steps_on_the_cpu(name, expect):
    warnings = []
    ps = params()
    groups = [{"params": ps[:1], "lr": 1e-3}, {"params": ps[1:], "lr": 1e-4}]
    opt, desc = build_optimizer(name, groups, [], device_type="cpu", warn=warnings.append)
    assert desc.startswith(expect) and warnings == []
    assert [g["lr"] for g in opt.param_groups] == [1e-3, 1e-4]  # separate UNet / text-encoder rates
    assert one_step(opt, ps)


@pytest.mark.parametrize("name,plain", [("AdamW8bit", "torch.optim.adamw.AdamW"),
                                        ("Lion8bit", "bitsandbytes.optim.lion.Lion")])
def test_8bit_optimizers_become_32bit_off_cuda(name, plain):
    warnings = []
    ps = params()
    opt, desc = build_optimizer(name, [{"params": ps, "lr": 1e-4}], [], device_type="cpu", warn=warnings.append)
    assert desc == plain and len(warnings) == 1 and "only saves GPU memory" in warnings[0]
    assert one_step(opt, ps)


def test_adaptive_optimizers_need_one_rate():
    ps = params()
    groups = [{"params": ps[:1], "lr": 1.0}, {"params": ps[1:], "lr": 0.5}]
    with pytest.raises(ConfigError, match="needs one learning rate for the UNet and the text encoder"):
        build_optimizer("Prodigy", groups, [], device_type="cpu", warn=print)
    opt, _ = build_optimizer("Prodigy", [{"params": ps[:1], "lr": 1.0}, {"params": ps[1:], "lr": 1.0}],
                             ["weight_decay=0.01", "decouple=True"], device_type="cpu", warn=print)
    assert one_step(opt, ps)


def test_optimizer_args_and_their_errors():
    assert parse_optimizer_args(["weight_decay=0.01", "betas=(0.9, 0.99)", "decouple=True", "mode=fast"]) == {
        "weight_decay": 0.01, "betas": (0.9, 0.99), "decouple": True, "mode": "fast"}
    ps = params()
    opt, desc = build_optimizer("AdamW", [{"params": ps, "lr": 1e-3}], ["weight_decay=0.1"], device_type="cpu",
                                warn=print)
    assert opt.param_groups[0]["weight_decay"] == 0.1 and desc == "torch.optim.adamw.AdamW(weight_decay=0.1)"
    with pytest.raises(ConfigError, match="not key=value"):
        parse_optimizer_args(["0.01"])
    with pytest.raises(ConfigError, match="do not fit AdamW"):
        build_optimizer("AdamW", [{"params": params(), "lr": 1e-3}], ["bogus=1"], device_type="cpu", warn=print)


def test_missing_optional_package_names_the_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "dadaptation", None)  # not installed
    with pytest.raises(UserError, match=r"needs the dadaptation package; install it with `pip install dadaptation`"):
        build_optimizer("DAdaptAdam", [{"params": params(), "lr": 1.0}], [], device_type="cpu", warn=print)


def test_8bit_that_cannot_run_falls_back_to_adamw(monkeypatch):
    class Broken(torch.optim.AdamW):  # what bitsandbytes does without a usable backend
        def step(self, closure=None):
            raise RuntimeError("no kernel for this device")

    real = optim.optimizer_class
    monkeypatch.setattr(optim, "optimizer_class", lambda name, dev, warn: (
        (Broken, "bitsandbytes.optim.adamw.AdamW8bit", {}) if name == "AdamW8bit" else real(name, dev, warn)))
    warnings = []
    opt, desc = build_optimizer("AdamW8bit", [{"params": params(), "lr": 1e-3}], [], device_type="cuda",
                                warn=warnings.append)
    assert type(opt) is torch.optim.AdamW and desc == "torch.optim.adamw.AdamW"
    assert len(warnings) == 1 and "training uses AdamW" in warnings[0]


def lrs(name, total=100, warmup=10, cycles=1, power=1.0):
    opt = torch.optim.SGD(params(), lr=1.0)
    sched = build_scheduler(name, opt, total_steps=total, warmup_steps=warmup, num_cycles=cycles, power=power)
    out = []
    for _ in range(total):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


def test_schedules():
    assert set(lrs("constant")) == {1.0}  # constant ignores warmup (the trainer warns)
    w = lrs("constant_with_warmup")
    assert w[0] == 0.0 and w[5] == pytest.approx(0.5) and w[10:] == [1.0] * 90
    cos = lrs("cosine")
    assert cos[10] == pytest.approx(1.0) and cos[55] == pytest.approx(0.5, abs=0.02) and cos[-1] < 0.01
    restarts = lrs("cosine_with_restarts", cycles=3)
    peaks = [i for i in range(11, 99) if restarts[i] > restarts[i - 1] + 0.5]
    assert len(peaks) == 2  # three cycles: two restarts after the first
    lin = lrs("linear")
    assert lin[55] == pytest.approx(0.5, abs=0.02) and lin[-1] == pytest.approx(1 / 90, abs=1e-6)
    poly = lrs("polynomial", power=2.0)
    assert poly[55] < lin[55] and poly[-1] < 0.01
    assert all(math.isfinite(x) for x in poly)
