"""The BLIP backend on a real (tiny, random-weights) BlipForConditionalGeneration."""

from pathlib import Path

import pytest
from PIL import Image

from tui_lora.core.dataset import tagops
from tui_lora.core.errors import UserError
from tui_lora.core.tagging.autotag import tag_dataset
from tui_lora.core.tagging.blip import clean_sentence
from tui_lora.core.tagging.pipeline import iter_tags, load_tagger
from support.tiny_blip import build_tiny_blip


@pytest.fixture(scope="module")
def blip_dir(tmp_path_factory) -> Path:
    return build_tiny_blip(tmp_path_factory.mktemp("blip") / "tiny")


def test_blip_captions_a_dataset_through_the_same_interface(make_project, blip_dir):
    import torch
    from transformers import BlipForConditionalGeneration, BlipProcessor

    project = make_project(images=0, trigger="ohwx")
    folder = project.concepts()[0].path
    for i, colour in enumerate([(255, 0, 0), (0, 0, 255), (30, 200, 90)]):
        Image.new("RGB", (48 + 16 * i, 48), colour).save(folder / f"{i}.png")
    (folder / "0.txt").write_text("old caption\n")
    before = (folder / "0.txt").read_bytes()

    tagger = load_tagger("blip", str(blip_dir))
    assert tagger.name == "blip" and tagger.device == "cpu"
    r = tag_dataset(project, tagger=tagger, batch_size=2)
    assert len(r.tagged) == 3 and not r.unreadable

    # The same sentence the model produces when called directly, after the trigger word.
    proc = BlipProcessor.from_pretrained(blip_dir)
    net = BlipForConditionalGeneration.from_pretrained(blip_dir).eval()
    with Image.open(folder / "1.png") as im:
        pixels = proc(images=im.convert("RGB"), return_tensors="pt")["pixel_values"]
    with torch.inference_mode():
        ids = net.generate(pixel_values=pixels, max_new_tokens=40, num_beams=3)
    expected = clean_sentence(proc.batch_decode(ids, skip_special_tokens=True)[0])
    text = (folder / "1.txt").read_text()
    assert expected and text.startswith("ohwx, ") and text == f"ohwx, {expected}"

    tagops.undo(project)
    assert (folder / "0.txt").read_bytes() == before and not (folder / "1.txt").exists()


def test_blip_skips_unreadable_images(blip_dir, tmp_path):
    tagger = load_tagger("blip", str(blip_dir))
    good = tmp_path / "a.png"
    Image.new("RGB", (40, 40), (0, 0, 0)).save(good)
    bad = tmp_path / "b.png"
    bad.write_bytes(b"nope")
    res = list(iter_tags(tagger, [bad, good]))
    assert res[0].tags is None and res[1].tags is not None


def test_blip_bad_model_is_one_sentence(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError) as e:
        load_tagger("blip", str(tmp_path / "empty"))
    assert "Cannot load the BLIP model" in e.value.message and "\n" not in e.value.message
    with pytest.raises(UserError, match="is not a folder"):
        load_tagger("blip", str(tmp_path / "missing"))


def test_clean_sentence_drops_blip_artefacts():
    assert clean_sentence(" arafed woman  in a red coat . ") == "woman in a red coat"


def test_blip_from_the_hub_cache_offline_and_a_quick_sentence_when_not_cached(run_cli, make_project, tmp_path,
                                                                               monkeypatch):
    """No network: a cached repo loads from the cache, an uncached one fails at once with one
    sentence (not minutes of per-file retries). A subprocess, as huggingface_hub reads its cache
    location once, at import."""
    import json
    import shutil
    import time

    cache = tmp_path / "hub"
    repo = cache / "models--someone--blip-tiny"
    shutil.copytree(build_tiny_blip(tmp_path / "built"), repo / "snapshots" / ("b" * 40))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("b" * 40)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    project = make_project(images=2)
    r = run_cli("tag", project.root, "--backend", "blip", "--model", "someone/blip-tiny", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout)["tagged"] == 2
    # The hub's host refuses connections (rather than HF_HUB_OFFLINE being set): found out in one try.
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    start = time.monotonic()
    r = run_cli("tag", project.root, "--backend", "blip", "--json")  # the default model, never downloaded here
    assert r.returncode == 2 and time.monotonic() - start < 60
    assert "Salesforce/blip-image-captioning-large is not downloaded yet" in json.loads(r.stdout)["error"]
