"""The WD14 tagger on a tiny ONNX model whose outputs expose preprocessing and threshold mistakes."""

import csv
import os
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tui_lora.core.dataset import tagops
from tui_lora.core.errors import UserError
from tui_lora.core.tagging.autotag import merge_caption, tag_dataset
from tui_lora.core.tagging.pipeline import iter_tags
from tui_lora.core.tagging.wd14 import WD14Tagger, create_session, read_tag_csv
from tui_lora.demo.tiny_tagger import EXPECTED_RED_SQUARE, TAGS, build_tiny_wd14

RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    return build_tiny_wd14(tmp_path_factory.mktemp("wd14") / "tiny")


@pytest.fixture(scope="module")
def tagger(model_dir):
    return WD14Tagger(str(model_dir))


def save(path: Path, size, colour, mode="RGB") -> Path:
    Image.new(mode, size, colour).save(path)
    return path


def tags_of(tagger, path):
    [result] = iter_tags(tagger, [path])
    return result.tags


def test_input_size_comes_from_the_model(tmp_path):
    t = WD14Tagger(str(build_tiny_wd14(tmp_path / "m32", size=32)))
    assert t.size == 32
    assert t.prepare(save(tmp_path / "a.png", (100, 50), RED)).shape == (32, 32, 3)


def test_preprocessing_is_bgr_0_255_white_padded_and_centred(tagger, tmp_path):
    arr = tagger.prepare(save(tmp_path / "wide.png", (128, 64), RED))
    assert arr.shape == (64, 64, 3) and arr.dtype == np.float32
    assert arr[32, 32].tolist() == [0.0, 0.0, 255.0]  # BGR: red is the last channel
    assert arr[2, 32].tolist() == [255.0] * 3 and arr[61, 32].tolist() == [255.0] * 3  # white bars, centred
    assert arr[17, 32].tolist() == arr[46, 32].tolist() == [0.0, 0.0, 255.0]  # rows 16-47 hold the image
    clear = tagger.prepare(save(tmp_path / "clear.png", (64, 64), (255, 0, 0, 0), "RGBA"))
    assert (clear == 255).all()  # transparency is composited on white, not black
    pal = Image.new("P", (64, 64), 0)
    pal.putpalette([0, 0, 255] * 256)
    pal.save(tmp_path / "pal.png")
    assert tagger.prepare(tmp_path / "pal.png")[10, 10].tolist() == [255.0, 0.0, 0.0]  # blue in BGR


def test_colours_and_padding_drive_the_tags(tagger, tmp_path):
    assert tags_of(tagger, save(tmp_path / "red.png", (80, 80), RED)) == EXPECTED_RED_SQUARE
    blue = tags_of(tagger, save(tmp_path / "blue.jpg", (80, 80), BLUE))
    assert "blue theme" in blue and "red theme" not in blue
    assert "green theme" in tags_of(tagger, save(tmp_path / "green.webp", (80, 80), GREEN))
    wide = tags_of(tagger, save(tmp_path / "wide.png", (160, 80), RED))
    assert wide[:2] == ["kagamine rin", "some artist"] and {"white border", "red theme"} <= set(wide)
    assert "white border" in tags_of(tagger, save(tmp_path / "tall.png", (60, 180), BLUE))


def test_thresholds_and_categories(model_dir, tmp_path):
    red = save(tmp_path / "red.png", (64, 64), RED)
    low = tags_of(WD14Tagger(str(model_dir), threshold=0.25), red)
    assert "short hair" in low and "hatsune miku" not in low
    high = tags_of(WD14Tagger(str(model_dir), threshold=0.6), red)
    assert "long hair" not in high and "^_^" in high
    names = tags_of(WD14Tagger(str(model_dir), character_threshold=0.6), red)
    assert names[:4] == ["kagamine rin", "some artist", "azur lane", "hatsune miku"]
    everything = tags_of(WD14Tagger(str(model_dir), threshold=0.0, character_threshold=0.0), red)
    ratings = [n for n, cat, _ in TAGS if cat == 9]
    assert not set(ratings) & set(everything)  # rating tags are never written
    assert len(everything) == len(TAGS) - len(ratings)
    assert "^_^" in everything and "^ ^" not in everything  # kaomoji keep their underscores


def test_batches_keep_order_and_skip_unreadable_images(tagger, tmp_path):
    paths = [save(tmp_path / f"{i}.png", (64 + i, 64), RED if i % 2 else BLUE) for i in range(5)]
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    missing = tmp_path / "gone.png"
    order = paths[:2] + [broken] + paths[2:] + [missing]
    one = list(iter_tags(tagger, order, batch_size=1, workers=1))
    many = list(iter_tags(tagger, order, batch_size=3, workers=4))
    assert [r.path for r in many] == order
    assert [r.tags for r in one] == [r.tags for r in many]
    assert many[2].tags is None and "corrupt or truncated" in many[2].error
    assert many[-1].tags is None and "cannot be read" in many[-1].error
    assert "red theme" in many[1].tags and "blue theme" in many[0].tags


def test_cuda_is_used_only_when_it_really_loads_and_quietly(model_dir, capfd):
    session, device = create_session(model_dir / "model.onnx", "auto")
    out, err = capfd.readouterr()
    assert out == "" and err == ""  # onnxruntime-gpu's provider errors are silenced
    assert device == ("cuda" if session.get_providers()[0] == "CUDAExecutionProvider" else "cpu")
    if device == "cpu":
        with pytest.raises(UserError, match="could not use the GPU"):
            create_session(model_dir / "model.onnx", "cuda")
    assert create_session(model_dir / "model.onnx", "cpu")[1] == "cpu"


def copy_model(model_dir: Path, dest: Path) -> Path:
    dest.mkdir()
    for f in ("model.onnx", "selected_tags.csv"):
        (dest / f).write_bytes((model_dir / f).read_bytes())
    return dest


def one_sentence(exc) -> str:
    msg = exc.value.message
    assert "\n" not in msg and "Traceback" not in msg
    return msg


def test_bad_models_are_one_sentence(model_dir, tmp_path):
    with pytest.raises(UserError) as e:
        WD14Tagger(str(tmp_path / "nope"))
    assert "does not exist" in one_sentence(e)
    no_csv = copy_model(model_dir, tmp_path / "no_csv")
    (no_csv / "selected_tags.csv").unlink()
    with pytest.raises(UserError) as e:
        WD14Tagger(str(no_csv))
    assert "has no selected_tags.csv" in one_sentence(e)
    short = copy_model(model_dir, tmp_path / "short")
    lines = (short / "selected_tags.csv").read_text().splitlines()
    (short / "selected_tags.csv").write_text("\n".join(lines[:-2]) + "\n")
    with pytest.raises(UserError) as e:
        WD14Tagger(str(short))
    assert f"outputs {len(TAGS)} tags but" in one_sentence(e) and f"lists {len(TAGS) - 2}" in e.value.message
    garbled = copy_model(model_dir, tmp_path / "garbled")
    (garbled / "model.onnx").write_bytes(b"this is not protobuf" * 10)
    with pytest.raises(UserError) as e:
        WD14Tagger(str(garbled))
    assert "is not a usable ONNX model" in one_sentence(e)
    bad_csv = copy_model(model_dir, tmp_path / "bad_csv")
    (bad_csv / "selected_tags.csv").write_text("id,tag\n1,smile\n")
    with pytest.raises(UserError) as e:
        WD14Tagger(str(bad_csv))
    assert "is not a WD14 tag list" in one_sentence(e)
    with pytest.raises(UserError) as e:
        WD14Tagger(str(model_dir), threshold=1.5)
    assert "outside 0-1" in one_sentence(e)


def test_a_model_that_is_not_a_wd14_tagger(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("ReduceMean", ["x"], ["y"], axes=[2, 3], keepdims=0)], "nchw",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, 64, 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 3])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    (tmp_path / "m").mkdir()
    onnx.save(model, str(tmp_path / "m" / "model.onnx"))
    (tmp_path / "m" / "selected_tags.csv").write_text("tag_id,name,category,count\n1,a,0,1\n2,b,0,1\n3,c,0,1\n")
    with pytest.raises(UserError, match=r"does not look like a WD14 tagger: its input is \['n', 3, 64, 64\]"):
        WD14Tagger(str(tmp_path / "m"))


def test_tag_csv_reading(model_dir):
    tl = read_tag_csv(model_dir / "selected_tags.csv")
    assert tl.names[:5] == ["general", "sensitive", "questionable", "explicit", "red theme"]
    assert sorted(set(tl.categories)) == [0, 1, 3, 4, 5, 9]
    with open(model_dir / "selected_tags.csv", newline="") as fh:
        assert next(csv.reader(fh)) == ["tag_id", "name", "category", "count"]


# ----- tagging a project ---------------------------------------------------------------------------------
@pytest.fixture
def colour_project(make_project):
    p = make_project(images=0, trigger="ohwx")
    folder = p.concepts()[0].path
    save(folder / "a.png", (64, 64), RED)
    save(folder / "b.png", (96, 48), BLUE)
    save(folder / "c.jpg", (64, 64), GREEN)
    (folder / "d.png").write_bytes(b"garbage")
    (folder / "a.txt").write_bytes(b"\xef\xbb\xbfohwx, smile, red theme\n")
    (folder / "c.txt").write_text("  \n")
    return p


def captions_bytes(p):
    return {f.name: f.read_bytes() for f in sorted(p.concepts()[0].path.glob("*.txt"))}


def test_overwrite_puts_the_trigger_first_and_undo_restores_bytes(colour_project, model_dir):
    before = captions_bytes(colour_project)
    seen = []
    r = tag_dataset(colour_project, model=str(model_dir), batch_size=2, progress=lambda d, t: seen.append((d, t)))
    folder = colour_project.concepts()[0].path
    assert (folder / "a.txt").read_text() == "ohwx, " + ", ".join(EXPECTED_RED_SQUARE) + "\n"
    b = (folder / "b.txt").read_text().split(", ")
    assert b[0] == "ohwx" and "blue theme" in b and "white border" in b
    assert not (folder / "d.txt").exists()
    assert [p.name for p, _ in r.unreadable] == ["d.png"] and r.total == 4 and len(r.tagged) == 3
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)] and r.device == "cpu" and not r.cancelled
    tagops.undo(colour_project)
    assert captions_bytes(colour_project) == before


def test_append_keeps_existing_tags_first_without_duplicates(colour_project, model_dir):
    tag_dataset(colour_project, model=str(model_dir), mode="append")
    a = (colour_project.concepts()[0].path / "a.txt").read_text().strip().split(", ")
    assert a[:3] == ["ohwx", "smile", "red theme"] and a.count("red theme") == 1
    assert set(EXPECTED_RED_SQUARE) <= set(a)
    assert merge_caption(["x", "Long_Hair"], ["long hair", "y"], mode="append", trigger="ohwx") == \
        ["ohwx", "x", "Long_Hair", "y"]


def test_missing_mode_tags_only_images_without_a_caption(colour_project, model_dir):
    before = captions_bytes(colour_project)
    r = tag_dataset(colour_project, model=str(model_dir), mode="missing", add_trigger=False)
    after = captions_bytes(colour_project)
    assert after["a.txt"] == before["a.txt"] and r.skipped_captioned == 1
    assert "green theme" in after["c.txt"].decode() and not after["c.txt"].startswith(b"ohwx")
    assert "blue theme" in after["b.txt"].decode() and r.total == 3


def test_cancel_keeps_finished_batches_and_is_undoable(colour_project, model_dir):
    before = captions_bytes(colour_project)
    cancel = threading.Event()
    r = tag_dataset(colour_project, model=str(model_dir), batch_size=1, workers=1,
                    progress=lambda d, t: cancel.set() if d == 1 else None, cancel=cancel)
    assert r.cancelled and len(r.tagged) == 1
    tagops.undo(colour_project)
    assert captions_bytes(colour_project) == before


def test_read_only_caption_stops_before_anything_is_written(colour_project):
    a = colour_project.concepts()[0].path / "a.txt"
    os.chmod(a, 0o444)
    before = captions_bytes(colour_project)
    with pytest.raises(UserError) as e:  # checked before the (here bogus) model would load
        tag_dataset(colour_project, model="/no/such/model")
    assert "Nothing was tagged" in one_sentence(e) and "read-only" in e.value.message
    assert captions_bytes(colour_project) == before and not tagops.history(colour_project)


def test_loaded_tagger_can_be_reused(colour_project, tagger):
    r = tag_dataset(colour_project, tagger=tagger, mode="missing")
    assert r.model == tagger.model and len(r.tagged) == 2


def test_empty_dataset_is_one_sentence(make_project, model_dir):
    with pytest.raises(UserError, match="There are no images in"):
        tag_dataset(make_project(images=0), model=str(model_dir))


@pytest.mark.parametrize("mode", ["RGB", "L", "P", "CMYK", "I;16", "LA", "RGBA", "PA"])
def test_opaque_shortcut_gives_the_reference_pixels(mode):
    from tui_lora.core.tagging.wd14 import flatten_on_white

    rng = np.random.default_rng(0)
    base = Image.fromarray(rng.integers(0, 256, (24, 40, 4), dtype=np.uint8), "RGBA")
    im = base.convert(mode) if mode != "PA" else base.convert("P").convert("PA")
    # SmilingWolf's reference: always through RGBA, composited on white.
    canvas = Image.new("RGBA", im.size, (255, 255, 255, 255))
    canvas.alpha_composite(im.convert("RGBA"))
    assert np.array_equal(np.asarray(flatten_on_white(im)), np.asarray(canvas.convert("RGB")))
