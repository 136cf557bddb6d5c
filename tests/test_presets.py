import pytest

from tui_lora.core.presets import list_presets, load_preset
from tui_lora.core.project import validate

REQUIRED = {"sd15-anime-character", "sd15-realistic-character", "sd15-style", "sdxl-character", "sdxl-style"}


def test_required_presets_exist():
    assert REQUIRED <= {p.name for p in list_presets()}


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_every_preset_validates_and_comments_every_setting(name):
    p = load_preset(name)
    assert p.description and p.repeats > 0
    s = validate(p.document().unwrap())
    assert s["project"]["family"] == p.family
    for line in p.path.read_text().splitlines():
        line = line.strip()
        if "=" in line and not line.startswith(("#", "[", "description")):
            assert "#" in line, f"{name}: setting without a comment: {line}"


def test_sd15_anime_character_follows_the_guides():
    s = validate(load_preset("sd15-anime-character").document().unwrap())
    assert s["dataset"]["resolution"] == 512
    assert (s["network"]["network_dim"], s["network"]["network_alpha"]) == (16, 8.0)
    t = s["training"]
    assert (t["unet_lr"], t["text_encoder_lr"]) == (5e-4, 1e-4)
    assert (t["lr_scheduler"], t["lr_scheduler_num_cycles"], t["lr_warmup_ratio"]) == ("cosine_with_restarts", 3, 0.05)
    assert t["optimizer_type"] == "AdamW8bit" and t["min_snr_gamma"] == 5
    assert (s["dataset"]["keep_tokens"], s["dataset"]["shuffle_caption"], s["dataset"]["flip_aug"]) == (1, True, False)
    assert (t["max_train_epochs"], t["train_batch_size"], t["clip_skip"]) == (10, 2, 2)


def test_realistic_and_sdxl_presets_follow_the_guides():
    r = load_preset("sd15-realistic-character")
    s = validate(r.document().unwrap())
    assert r.repeats == 15 and s["training"]["max_train_epochs"] == 10
    assert (s["network"]["network_dim"], s["network"]["network_alpha"], s["training"]["unet_lr"]) == (64, 32.0, 1e-4)
    for name in ("sdxl-character", "sdxl-style"):
        s = validate(load_preset(name).document().unwrap())
        assert s["dataset"]["resolution"] == 1024
        assert s["network"]["network_train_unet_only"] and s["training"]["gradient_checkpointing"]
        assert 2e-4 <= s["training"]["unet_lr"] <= 3e-4
    s = validate(load_preset("sdxl-character").document().unwrap())
    assert (s["network"]["network_dim"], s["network"]["network_alpha"]) == (8, 4.0)
