"""The BLIP backend on a real (tiny, random-weights) BlipForConditionalGeneration."""

from pathlib import Path

import pytest
from PIL import Image

from tui_lora.core.dataset import tagops
from tui_lora.core.dataset.autotag import tag_dataset
from tui_lora.core.errors import UserError
from tui_lora.core.tagger import iter_tags, load_tagger
from tui_lora.core.tagger_blip import clean_sentence
from tui_lora.testing.tiny_tagger import build_tiny_blip


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
