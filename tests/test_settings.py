import pytest

from tui_lora.core import settings as S
from tui_lora.core.errors import ConfigError


def test_every_design_key_is_in_the_schema():
    design = {
        "project": ["name", "trigger_word", "family", "preset"],
        "model": ["pretrained_model_name_or_path", "v_parameterization", "vae"],
        "dataset": ["resolution", "enable_bucket", "min_bucket_reso", "max_bucket_reso", "bucket_no_upscale",
                    "caption_extension", "shuffle_caption", "keep_tokens", "flip_aug", "caption_dropout_rate",
                    "cache_latents", "cache_latents_to_disk", "reg_data_dir", "prior_loss_weight"],
        "network": ["network_type", "network_dim", "network_alpha", "conv_dim", "conv_alpha", "network_train_unet_only"],
        "training": ["optimizer_type", "unet_lr", "text_encoder_lr", "lr_scheduler", "lr_scheduler_num_cycles",
                     "lr_warmup_ratio", "train_batch_size", "max_train_epochs", "max_train_steps", "mixed_precision",
                     "gradient_checkpointing", "seed", "noise_offset", "multires_noise_iterations",
                     "multires_noise_discount", "min_snr_gamma", "clip_skip", "max_token_length", "max_grad_norm"],
        "sample": ["prompts", "sample_every_n_epochs", "sampler"],
        "output": ["output_name", "save_every_n_epochs", "save_precision"],
    }
    for section, names in design.items():
        for name in names:
            assert f"{section}.{name}" in S.KEY_INDEX


def test_every_key_explains_itself():
    for k in S.KEYS:
        assert len(k.help) > 20, k.dotted
        assert S.coerce(k, k.default) == k.default


@pytest.mark.parametrize("text,expected", [
    ("training.unet_lr=1e-4", 1e-4),
    ("training.train_batch_size=4", 4),
    ("dataset.flip_aug=yes", True),
    ("dataset.flip_aug=false", False),
    ("training.optimizer_type=adamw8bit", "AdamW8bit"),
    ("training.max_token_length=150", 150),
    ("sample.prompts=a cat|a dog", ["a cat", "a dog"]),
])
def test_override_parsing(text, expected):
    assert S.parse_override(text).value == expected


@pytest.mark.parametrize("text,fragment", [
    ("training.unet_lr=abc", "training.unet_lr = 'abc' is not a number"),
    ("training.train_batch_size=0", "from 1 to 256"),
    ("training.train_batch_size=2.5", "whole number"),
    ("training.max_token_length=100", "one of 75, 150, 225"),
    ("training.optimizer_type=sgd", "one of AdamW"),
    ("training.unet_rl=1e-4", "did you mean training.unet_lr"),
    ("trainin.unet_lr=1", "did you mean [training]"),
    ("unet_lr=1", "section.key=value"),
    ("dataset.flip_aug=maybe", "true or false"),
])
def test_bad_overrides_name_the_problem(text, fragment):
    with pytest.raises(ConfigError) as e:
        S.parse_override(text)
    assert fragment in e.value.message
    assert "\n" not in e.value.message


def test_unknown_key_in_the_wrong_section_points_to_the_right_one():
    with pytest.raises(ConfigError, match="did you mean training.unet_lr"):
        S.key("network.unet_lr")
