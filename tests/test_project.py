import os
import tomllib

import pytest

from tui_lora.core.errors import ConfigError, ProjectError, UserError
from tui_lora.core.project import LAYOUT_DIRS, Project


def test_create_makes_the_design_layout(tmp_path):
    p = Project.create(tmp_path / "mia", preset="sd15-anime-character",
                       base_model="stable-diffusion-v1-5/stable-diffusion-v1-5", trigger="miaxyz")
    for d in LAYOUT_DIRS:
        assert (p.root / d).is_dir(), d
    [concept] = p.concepts()
    assert concept.folder == "10_miaxyz" and concept.repeats == 10
    data = tomllib.loads((p.root / "project.toml").read_text())
    assert data["project"] == {"family": "sd15", "subject": "character", "name": "mia",
                               "trigger_word": "miaxyz", "preset": "sd15-anime-character"}
    assert "preset" not in data  # the preset's own metadata is not copied
    assert p.output_name == "mia"
    assert p.epoch_file(3).name == "mia-000003.safetensors"
    assert p.final_file().name == "mia.safetensors"


def test_round_trip_keeps_values_and_comments(tmp_path):
    p = Project.create(tmp_path / "p", preset="sd15-style", base_model="stable-diffusion-v1-5/stable-diffusion-v1-5")
    p.set("training.unet_lr", 2e-4)
    p.set_text("network.network_dim", "24")
    p.set("dataset.flip_aug", False)
    p.save()
    text = (p.root / "project.toml").read_text()
    assert "# a style is symmetric" in text  # the preset's comments survive
    q = Project.load(p.root)
    assert q.get("training.unet_lr") == 2e-4
    assert q.get("network.network_dim") == 24
    assert q.get("dataset.flip_aug") is False
    assert q.settings == p.settings


def test_missing_keys_take_defaults(tmp_path):
    (tmp_path / "project.toml").write_text('[project]\nname = "x"\n')
    p = Project.load(tmp_path)
    assert p.get("training.train_batch_size") == 2
    assert p.get("dataset.resolution") == 512
    assert (tmp_path / "dataset" / ".trash").is_dir()


@pytest.mark.parametrize("body,fragment", [
    ("[training]\nunet_rl = 1e-4\n", "Unknown key training.unet_rl; did you mean training.unet_lr?"),
    ("[trainig]\nunet_lr = 1e-4\n", "Unknown section [trainig]; did you mean [training]?"),
    ('[training]\nunet_lr = "fast"\n', "training.unet_lr = 'fast' is not allowed; it must be a number from 0 to 10"),
    ("[training]\ntrain_batch_size = 0\n", "train_batch_size = 0 is not allowed; it must be a whole number from 1 to 256"),
    ('[training]\nmixed_precision = "fp8"\n', "one of no, fp16, bf16"),
    ("[dataset]\nflip_aug = 1\n", "true or false"),
    ("[dataset]\nmin_bucket_reso = 2048\nmax_bucket_reso = 1024\n", "make the minimum smaller"),
    ("[training\n", "is not valid TOML"),
    ("training = 3\n", "must be a table"),
])
def test_invalid_configs_name_key_value_and_allowed(tmp_path, body, fragment):
    (tmp_path / "project.toml").write_text(body)
    with pytest.raises(ConfigError) as e:
        Project.load(tmp_path)
    assert fragment in e.value.message


def test_set_rejects_bad_values_and_keeps_the_old_one(tmp_path):
    p = Project.create(tmp_path / "p", preset="sd15-anime-character", base_model="stable-diffusion-v1-5/stable-diffusion-v1-5")
    with pytest.raises(ConfigError):
        p.set_text("training.train_batch_size", "lots")
    with pytest.raises(ConfigError):
        p.set("training.nonsense", 1)
    assert p.get("training.train_batch_size") == 2


def test_overrides_do_not_touch_the_file(tmp_path):
    p = Project.create(tmp_path / "p", preset="sd15-anime-character", base_model="stable-diffusion-v1-5/stable-diffusion-v1-5")
    eff = p.effective_settings(["training.unet_lr=1e-4", "training.max_train_epochs=3"])
    assert eff["training"]["unet_lr"] == 1e-4 and eff["training"]["max_train_epochs"] == 3
    assert Project.load(p.root).get("training.unet_lr") == 5e-4
    with pytest.raises(ConfigError, match="did you mean"):
        p.effective_settings(["training.unetlr=1"])


def test_bad_creations_leave_nothing_behind(tmp_path):
    target = tmp_path / "p"
    with pytest.raises(ConfigError, match="Unknown preset 'sd15-anime'.*sd15-anime-character"):
        Project.create(target, preset="sd15-anime", base_model="a/b")
    with pytest.raises(UserError, match="does not exist"):
        Project.create(target, preset="sd15-style", base_model="./models/missing.safetensors")
    with pytest.raises(UserError, match="trigger word"):
        Project.create(target, preset="sd15-style", base_model="a/b", trigger="a, b")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []  # no staging folders either


def test_existing_folders_are_refused(tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x.txt").write_text("x")
    with pytest.raises(ProjectError, match="not empty"):
        Project.create(tmp_path / "full", preset="sd15-style", base_model="a/b")
    (tmp_path / "empty").mkdir()
    Project.create(tmp_path / "empty", preset="sd15-style", base_model="a/b")
    with pytest.raises(ProjectError, match="already a project"):
        Project.create(tmp_path / "empty", preset="sd15-style", base_model="a/b")


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_parent_is_refused(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(ProjectError, match="Cannot write"):
            Project.create(ro / "p", preset="sd15-style", base_model="a/b")
    finally:
        ro.chmod(0o700)


def test_missing_parent_is_refused(tmp_path):
    with pytest.raises(ProjectError, match="parent folder"):
        Project.create(tmp_path / "no" / "p", preset="sd15-style", base_model="a/b")


def test_load_errors(tmp_path):
    with pytest.raises(ProjectError, match="does not exist"):
        Project.load(tmp_path / "nope")
    with pytest.raises(ProjectError, match="not a tui-lora project"):
        Project.load(tmp_path)


def test_family_comes_from_the_model(tmp_path, tiny_sdxl, tiny_sd15):
    p = Project.create(tmp_path / "x", preset="sdxl-character", base_model=str(tiny_sdxl))
    assert p.family == "sdxl"
    assert p.get("model.pretrained_model_name_or_path") == str(tiny_sdxl.resolve())
    with pytest.raises(UserError, match="base model is SD1.5 but preset sdxl-style is for SDXL"):
        Project.create(tmp_path / "y", preset="sdxl-style", base_model=str(tiny_sd15))


def test_diff_from_preset(tmp_path):
    p = Project.create(tmp_path / "p", preset="sd15-anime-character", base_model="a/b")
    assert p.diff_from_preset() == []
    p.set("network.network_dim", 32)
    assert p.diff_from_preset() == [("network.network_dim", 16, 32)]
