"""The network types' pieces that need no training: LyCORIS's LoKr factorisation (network.lokr_factor
means what it means in LyCORIS), the peft layers each type injects, and ss_network_args as sd-scripts
writes them for LyCORIS runs."""

import pytest
import torch

from tui_lora.core.registry import networks
from tui_lora.core.train.adapters import lokr_factorization
from tui_lora.core.train.network import NetworkSpec, Target, collect_modules, inject


@pytest.mark.parametrize("dim,factor,expected", [
    # LyCORIS functional/general.py's docstring table (its code gives 18 × 20 for 360, where the table
    # says 8 × 45; the code is what splits the layers)
    (127, -1, (1, 127)), (128, -1, (8, 16)), (250, -1, (10, 25)), (360, -1, (18, 20)), (512, -1, (16, 32)),
    (1024, -1, (32, 32)), (128, 2, (2, 64)), (250, 4, (2, 125)), (360, 8, (8, 45)), (1024, 16, (16, 64)),
    # SD layer sides (notes: auto and factor 8 / 16)
    (320, -1, (16, 20)), (640, -1, (20, 32)), (768, -1, (24, 32)), (1280, -1, (32, 40)), (2048, -1, (32, 64)),
    (2816, -1, (44, 64)), (5120, -1, (64, 80)), (320, 8, (8, 40)), (1280, 16, (16, 80)),
    # a factor above √dim is swapped, so it sizes the small side (peft would give (16, 2))
    (32, 16, (2, 16)), (64, 16, (4, 16)),
])
def test_lokr_factorization_is_lycoris(dim, factor, expected):
    assert lokr_factorization(dim, factor) == expected


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(32, 64)
        self.conv = torch.nn.Conv2d(32, 64, 3, padding=1)


@pytest.mark.parametrize("factor,w1_shape", [(-1, (8, 4)), (16, (4, 2))])
def test_lokr_layers_use_lycoris_shapes_and_peft_is_left_as_it_was(factor, w1_shape):
    import peft.tuners.lokr.layer as lokr_layer

    original = lokr_layer.factorization
    model = Tiny()
    spec = NetworkSpec("lokr", 2, 1.0, 2, 1.0, lokr_factor=factor)
    targets = [Target("lin", 2, 1.0), Target("conv", 2, 1.0, conv3x3=True)]
    inject(model, targets, spec)
    assert lokr_layer.factorization is original
    mods = {m.path: m for m in collect_modules(model, "unet", targets, lambda p: "lora_unet_" + p, spec)}
    w1 = mods["lin"].params()["lokr_w1"]
    assert tuple(w1.shape) == w1_shape  # out 64 → (a, b), in 32 → (c, d): w1 is (a, c)
    files = mods["conv"].file_tensors()
    assert not any(k == "lokr_t2" for k in files)  # ComfyUI cannot merge a Tucker w2


@pytest.mark.parametrize("network_type,dora,module,args", [
    ("lora", False, "networks.lora", {}),
    ("locon", False, "networks.lora", {"conv_dim": "8", "conv_alpha": "4.0"}),
    ("lora", True, "lycoris.kohya", {"preset": "attn-mlp", "algo": "lora", "dora_wd": "True",
                                     "wd_on_output": "True", "dropout": None}),
    ("locon", True, "lycoris.kohya", {"conv_dim": "8", "conv_alpha": "4.0", "algo": "locon", "dora_wd": "True",
                                      "wd_on_output": "True", "dropout": None}),
    ("loha", False, "lycoris.kohya", {"conv_dim": "8", "conv_alpha": "4.0", "algo": "loha", "dropout": None}),
    ("lokr", False, "lycoris.kohya", {"conv_dim": "8", "conv_alpha": "4.0", "algo": "lokr", "factor": "-1",
                                      "dropout": None}),
])
def test_metadata_says_what_lycoris_runs_say(network_type, dora, module, args):
    n = networks.get(network_type)
    assert n.module_name(dora) == module
    assert n.network_args(conv_dim=8, conv_alpha=4.0, dora=dora, factor=-1) == args
    assert n.network_args(conv_dim=0, conv_alpha=4.0, dora=dora).get("conv_dim") is None
