"""Every registry entry is complete and used the same way everywhere: the schema accepts it, the
CLI offers it, the planner has its facts, and its code builds (on the CPU, tiny inputs)."""

import importlib.util
import math

import pytest

from tui_lora.core import settings as S
from tui_lora.core.errors import UserError
from tui_lora.core.registry import boorus, networks, optimizers, samplers, schedulers

FIELDS = {s: {k.name for k in S.KEYS if k.section == s} for s in S.SECTIONS}


def installed(package: str) -> bool:
    return not package or importlib.util.find_spec(package) is not None


def option(parser, command: str, flag: str):
    sub = next(a for a in parser._actions if a.dest == "command").choices[command]
    return next(a for a in sub._actions if flag in a.option_strings)


# ----- the settings schema ---------------------------------------------------------------------
def test_the_schema_takes_its_choices_from_the_registries():
    assert S.key("training.optimizer_type").choices == optimizers.NAMES
    assert S.key("training.lr_scheduler").choices == schedulers.NAMES
    assert S.key("network.network_type").choices == networks.NAMES
    assert S.key("sample.sampler").choices == samplers.NAMES
    for k in ("training.optimizer_type", "training.lr_scheduler", "network.network_type", "sample.sampler"):
        assert S.key(k).default in S.key(k).choices, k


def test_one_typed_object_per_section_with_the_defaults_of_the_schema():
    s = S.Settings()
    for k in S.KEYS:
        assert s.value(k) == k.default and s[k.section][k.name] == k.default, k.dotted
    assert [c.SECTION for c in S.SECTION_CLASSES] == list(S.SECTIONS)
    typed = S.Settings.from_dict({"training": {"unet_lr": 1, "optimizer_type": "prodigy"}})
    assert typed.training.unet_lr == 1.0 and isinstance(typed.training.unet_lr, float)
    assert typed.training.optimizer_type == "Prodigy"  # any spelling, stored as the registry writes it
    assert S.Settings.from_dict(typed.to_dict()) == typed  # state.json round trip
    with pytest.raises(AttributeError):  # dataclasses.FrozenInstanceError
        typed.training.unet_lr = 2.0  # frozen: changes go through with_values / --set
    assert typed.with_overrides(["training.unet_lr=2e-4"]).training.unet_lr == 2e-4
    assert typed.training.unet_lr == 1.0


# ----- optimizers ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", optimizers.NAMES)
def test_every_optimizer_is_complete(name):
    from tui_lora.core.plan import FolderCount, PlanInput, make_plan
    from tui_lora.core.train.guards import likely_causes

    o = optimizers.OPTIMIZERS[name]
    assert o.name == name and len(o.help) > 20 and o.state_bytes > 0 and o.max_lr > 0
    assert S.parse_override(f"training.optimizer_type={name.lower()}").value == name
    if o.full_precision:  # an 8-bit optimizer's twin is a plain one, and the memory advice finds it
        twin = optimizers.OPTIMIZERS[o.full_precision]
        assert not twin.full_precision and twin.state_bytes > o.state_bytes
        assert optimizers.eight_bit_twin(twin.name) == name
    # the planner: its VRAM state and its learning-rate advice
    base = dict(family="sd15", resolution=512, batch_size=1, network_dim=16)
    from tui_lora.core.plan import estimate_vram

    part = estimate_vram(**base, optimizer=name).parts["lora+optimizer"]
    assert part == pytest.approx(estimate_vram(**base, optimizer="AdamW").parts["lora+optimizer"]
                                 * (8 + o.state_bytes) / 16, abs=0.01)
    folders = (FolderCount("10_x", 20, 10),)
    at_one = {i.code for i in make_plan(PlanInput(folders, optimizer=name, unet_lr=1.0, text_encoder_lr=1.0)).issues}
    usual = {i.code for i in make_plan(PlanInput(folders, optimizer=name, unet_lr=o.max_lr / 4,
                                                 text_encoder_lr=o.max_lr / 10)).issues}
    if o.self_tuning:
        assert "lr_high" not in at_one and "lr_adaptive" in usual
    else:
        assert "lr_high" in at_one and not usual & {"lr_high", "lr_adaptive"}
    causes = " ".join(likely_causes(S.Settings().with_values({"training.optimizer_type": name}), "sd15", "bf16"))
    assert (name in causes) == o.self_tuning


@pytest.mark.parametrize("name", optimizers.NAMES)
def test_every_optimizer_builds_on_the_cpu_when_installed(name):
    import torch

    from tui_lora.core.train.optim import build_optimizer

    o = optimizers.OPTIMIZERS[name]
    if not installed(o.package):
        pytest.skip(f"{o.package} is not installed")
    torch.manual_seed(0)
    params = [torch.nn.Parameter(torch.randn(16, 16)), torch.nn.Parameter(torch.randn(16))]
    warnings = []
    opt, desc = build_optimizer(name, [{"params": params, "lr": 1.0 if o.self_tuning else 1e-3}], [],
                                device_type="cpu", warn=warnings.append)
    assert desc and (len(warnings) == 1) == bool(o.full_precision)  # 8-bit ones say they run 32-bit here
    before = [p.detach().clone() for p in params]
    for p in params:
        p.grad = torch.ones_like(p)
    opt.step()
    assert any(not torch.equal(b, p) for b, p in zip(before, params))


@pytest.mark.parametrize("name", [n for n in optimizers.NAMES if optimizers.OPTIMIZERS[n].package])
def test_a_missing_optimizer_package_names_its_install(name, monkeypatch):
    import sys

    o = optimizers.OPTIMIZERS[name]
    for mod in [m for m in sys.modules if m == o.package or m.startswith(o.package + ".")] + [o.package]:
        monkeypatch.setitem(sys.modules, mod, None)  # as if not installed
    warnings = []
    twin = optimizers.OPTIMIZERS.get(o.full_precision)
    if twin is not None and not twin.package:  # falls back to torch's own twin, and says so
        assert o.load(warnings.append).cls is twin.load(print).cls and "falls back" in warnings[0]
    else:
        with pytest.raises(UserError, match=f"needs the {o.package} package; install it with `pip install "
                                            f"{o.package}`"):
            o.load(warnings.append)


# ----- schedulers ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", schedulers.NAMES)
def test_every_scheduler_is_complete_and_builds(name):
    import torch

    from tui_lora.core.train.optim import build_scheduler

    entry = schedulers.SCHEDULERS[name]
    assert len(entry.help) > 20 and all(k in FIELDS["training"] for k in entry.uses)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=1.0)
    sched = build_scheduler(name, opt, total_steps=20, warmup_steps=5, num_cycles=2, power=2.0)
    rates = []
    for _ in range(20):
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert all(math.isfinite(r) and 0 <= r <= 1.0 for r in rates)
    assert (rates[0] == 0.0) == entry.warmup  # warmup starts from zero; a schedule without it does not


# ----- network types ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", networks.NAMES)
def test_every_network_type_is_complete(name, tiny_sd15):
    from diffusers import UNet2DConditionModel

    from tui_lora.core.plan import estimate_vram
    from tui_lora.core.train.network import NetworkSpec, unet_targets

    n = networks.NETWORKS[name]
    assert len(n.help) > 20 and n.module and n.params_per_rank > 0
    assert set(n.settings) <= FIELDS["network"]
    assert {"conv_dim", "conv_alpha"} <= set(n.settings) if n.conv else not {"conv_dim", "conv_alpha"} & set(n.settings)
    # the file: conv types say their conv rank in ss_network_args
    args = n.network_args(conv_dim=4, conv_alpha=2.0)
    assert (args.get("conv_dim") == "4") == n.conv and n.network_args(conv_dim=0, conv_alpha=2.0).get("conv_dim") is None
    # the planner counts the convolutions exactly when the type trains them
    base = dict(family="sd15", resolution=512, batch_size=1, network_dim=16, network_type=name)
    assert (estimate_vram(**base, conv_dim=64).total_gb > estimate_vram(**base).total_gb) == n.conv
    # the trainer targets them
    unet = UNet2DConditionModel.from_pretrained(tiny_sd15, subfolder="unet")
    targets = unet_targets(unet, NetworkSpec(name, 8, 4.0, 4, 2.0))
    assert targets and any(t.conv3x3 for t in targets) == n.conv


# ----- samplers --------------------------------------------------------------------------------
def test_every_sampler_is_offered_and_builds():
    from tui_lora.cli import build_parser
    from tui_lora.core.sample_prompts import parse_prompt_line
    from tui_lora.core.train.pipeline import make_scheduler, sampler_label

    assert tuple(option(build_parser("compare"), "compare", "--sampler").choices) == samplers.NAMES
    for name, entry in samplers.SAMPLERS.items():
        assert entry.help and entry.label and sampler_label(name) == entry.label
        assert parse_prompt_line(f"a cat --ss {name.upper()}").sampler == name
        sched = make_scheduler(name, None, v_prediction=False)
        assert type(sched).__name__ == entry.scheduler
        assert all(sched.config[k] == v for k, v in entry.config.items()), name
        sched.set_timesteps(4)


# ----- booru sites -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", boorus.NAMES)
def test_every_booru_site_is_complete(name):
    from tui_lora.cli import build_parser
    from tui_lora.core import booru
    from tui_lora.tui.fetch import fetchform as F

    site = boorus.SITES[name]
    assert site.title and len(site.help) > 20 and site.base_url.startswith("https://") and site.api_rate > 0
    assert site.account in (boorus.NONE, boorus.OPTIONAL, boorus.REQUIRED)
    assert booru.build_query(name.upper(), "a").source == name  # the CLI's --source takes it
    assert name in option(build_parser("fetch"), "fetch", "--source").help
    client = booru.open_client(name)
    assert type(client).__name__ == site.client and client.source == name
    assert client.base_url == site.base_url and client.site == site.title
    # the wizard's form: a choice, an address of its own, account fields only when it takes an account
    assert (site.title, name) in F.SOURCE_CHOICES
    form = F.FetchForm(source=name)
    form.base_url = "http://mirror.example/x"
    assert form.base_urls[name] == "http://mirror.example/x" and F.FetchForm.from_memory(form.to_memory()) == form
    assert (name in F.ACCOUNT_LABELS) == site.takes_account
    if site.takes_account:
        assert site.where_to_get and site.account_help and site.user_label
        assert site.where_to_get in site.account_note() or site.account == boorus.OPTIONAL
        with pytest.raises(UserError, match="both"):
            F.credentials(name, "someone", "")
    else:
        assert F.credentials(name, "someone", "key") == (None, "")


def test_the_wizard_help_names_every_site():
    from tui_lora.tui.common.helptext import FIELDS as HELP

    for site in boorus.SITES.values():
        assert f"{site.title}: {site.help}" in HELP["fetch_source"][1]
        if site.takes_account:
            assert site.account_help in HELP["fetch_account"][1]
