"""Near-duplicate groups: copies group with their original, different pictures never do."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from _dataset_helpers import save, textured
from tui_lora.core.dataset import fingerprint as F
from tui_lora.core.dataset import trash
from tui_lora.core.dataset.dedupe import HashBackend, find_duplicates, find_in_records, trash_duplicates
from tui_lora.core.dataset.records import Limits
from tui_lora.core.dataset.scan import scan_folder
from tui_lora.core.errors import UserError

N_DISTINCT = 40
ORIG = (384, 384)


def _recompressed(img, quality=60):
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


COPIES = {
    "half size": lambda im: im.resize((192, 192), Image.Resampling.LANCZOS),
    "jpeg q60": _recompressed,
    "crop 5% each side": lambda im: im.crop((19, 19, 365, 365)),
    "crop 10% left": lambda im: im.crop((38, 0, 384, 384)),
    "crop 3% corner": lambda im: im.crop((12, 0, 384, 372)),
    "crop 8% top+bottom, small jpeg": lambda im: _recompressed(im.crop((0, 15, 384, 369)).resize((200, 185)), 75),
    "mirrored": lambda im: im.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
}


@pytest.fixture(scope="module")
def copies_dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("dedupe")
    ds = root / "dataset"
    for s in range(N_DISTINCT):
        img = textured(s, ORIG if s < 4 or s % 4 else (384, 576))  # copies are cut from square ones
        save(img, ds / "5_a" / f"orig {s:02}.png", f"tags {s}")
        if s < 4:
            for name, make in COPIES.items():
                save(make(img), ds / "5_a" / f"copy {s:02} {name}.png", f"tags {s}")
    save(textured(1, ORIG), ds / "3_other ü" / "exact copy of 01.png")
    return root


@pytest.fixture(scope="module")
def copies_report(copies_dataset):
    root = copies_dataset
    scanned = scan_folder(root / "dataset", root / ".cache", Limits(resolution=64))
    return find_in_records(scanned.images, HashBackend())


def test_copies_group_with_their_original_and_nothing_else(copies_report):
    assert len(copies_report.groups) == 4
    for s in range(4):
        [g] = [g for g in copies_report.groups if any(m.path.name == f"orig {s:02}.png" for m in g.members)]
        got = sorted(m.path.name for m in g.members)
        want = sorted([f"orig {s:02}.png"] + [f"copy {s:02} {name}.png" for name in COPIES]
                      + (["exact copy of 01.png"] if s == 1 else []))
        assert got == want
        # every member is a near-copy of one image (normally the original)
        assert all(m.distance <= HashBackend.default_threshold for m in g.members)
        [ref] = [m for m in g.members if m.is_reference]
        assert ref.path == g.reference and ref.distance == 0


def test_exact_copies_are_marked_and_the_keeper_is_the_best_copy(copies_report):
    [g] = [g for g in copies_report.groups if any(m.path.name == "orig 01.png" for m in g.members)]
    # the original and its exact copy tie on resolution and size: the name decides
    assert g.keeper.path.name == "exact copy of 01.png"
    assert [(m.path.name, m.exact) for m in g.others if m.exact] == [("orig 01.png", True)]
    for g in copies_report.groups:
        k = g.keeper.record
        assert all((k.width * k.height, k.size_bytes) >= (m.record.width * m.record.height, m.record.size_bytes)
                   for m in g.others)


def test_distinct_images_are_far_apart(copies_report, copies_dataset):
    root = copies_dataset
    scanned = scan_folder(root / "dataset", root / ".cache", Limits(resolution=64))
    origs = [r for r in scanned.images if r.path.name.startswith("orig")]
    dists = [F.distance(a.fingerprint, b.fingerprint) for i, a in enumerate(origs) for b in origs[i + 1:]]
    assert min(dists) > HashBackend.default_threshold + 4


def test_keeper_prefers_resolution_then_file_size(tmp_path):
    ds = tmp_path / "dataset"
    img = textured(5, (256, 256))
    save(img.resize((128, 128)), ds / "5_a" / "a small.png")
    save(img, ds / "5_a" / "b big.jpg", quality=70)
    save(img, ds / "5_a" / "c big.png")  # same resolution, bigger file
    scanned = scan_folder(ds, tmp_path / ".cache", Limits(resolution=64))
    [g] = find_in_records(scanned.images, HashBackend()).groups
    assert g.keeper.path.name == "c big.png" and len(g.others) == 2


def test_apply_moves_copies_with_captions_and_keeper_keeps_a_caption(make_project):
    project = make_project(images=0)
    c = project.concepts()[0].path
    img = textured(7, (256, 256))
    save(img, c / "keeper.png")  # no caption of its own
    save(img.resize((128, 128)), c / "copy.png", "ohwx, smile")
    save(textured(8, (256, 256)), c / "other.png", "ohwx, other")
    report = find_duplicates(project)
    assert [m.path.name for g in report.groups for m in g.others] == ["copy.png"]
    entries = trash_duplicates(project, report.groups)
    assert sorted(p.name for p in c.iterdir()) == ["keeper.png", "keeper.txt", "other.png", "other.txt"]
    assert (c / "keeper.txt").read_text() == "ohwx, smile"
    trash.restore(project, entries)
    assert (c / "copy.png").exists() and (c / "copy.txt").read_text() == "ohwx, smile"


def test_fingerprint_distance_basics():
    a, b = textured(1, (200, 200)), textured(2, (200, 200))
    fa = F.fingerprint(a)
    assert len(fa) == F.FINGERPRINT_BYTES
    assert F.distance(fa, fa) == 0
    assert F.distance(fa, F.fingerprint(a.resize((100, 100)))) <= 4
    assert F.distance(fa, F.fingerprint(b)) > 24


def test_clip_backend_says_plainly_when_no_model_is_on_disk(make_project, tmp_path):
    from tui_lora.core.dataset.clip_backend import ClipBackend

    project = make_project(images=2)
    with pytest.raises(UserError, match="No CLIP model is available offline"):
        find_duplicates(project, backend=ClipBackend("tui-lora-tests/no-such-clip-model"))
    with pytest.raises(UserError, match="No CLIP model is available offline"):
        find_duplicates(project, backend=ClipBackend(str(tmp_path / "empty folder")))


def test_clip_backend_groups_copies_with_a_local_model(make_project, tmp_path):
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    from tui_lora.core.dataset.clip_backend import ClipBackend

    tiny = dict(hidden_size=32, intermediate_size=37, num_attention_heads=4, num_hidden_layers=2)
    cfg = CLIPConfig(text_config=dict(tiny, vocab_size=99, max_position_embeddings=32, bos_token_id=0,
                                      eos_token_id=1, pad_token_id=1),
                     vision_config=dict(tiny, image_size=32, patch_size=8), projection_dim=16)
    model_dir = tmp_path / "tiny-clip"
    torch.manual_seed(0)
    CLIPModel(cfg).save_pretrained(model_dir)
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(model_dir)

    project = make_project(images=3, size=(96, 96))
    c = project.concepts()[0].path
    with Image.open(c / "img_0000.png") as im:
        im.resize((48, 48)).save(c / "small copy.png")  # not byte-identical: only the model can match it
    backend = ClipBackend(str(model_dir))
    assert backend.unavailable() is None
    report = find_duplicates(project, backend=backend, threshold=0.5)
    assert report.backend == "clip" and report.compared == 4
    [g] = [g for g in report.groups if g.keeper.path.name == "img_0000.png"]  # 96 px beats 48 px
    [m] = [m for m in g.others if m.path.name == "small copy.png"]
    assert not m.exact and m.distance <= 0.5


def test_full_frame_hash_is_imagehash_phash():
    """The fingerprint's first window is imagehash's pHash at hash_size=12, computed differently."""
    import imagehash
    import numpy as np

    for s in range(4):
        img = textured(s, (200, 200))
        ours = np.unpackbits(np.frombuffer(F.fingerprint(img)[:F.HASH_BYTES], np.uint8))
        theirs = imagehash.phash(img, hash_size=F.HASH_SIZE).hash.flatten()
        assert (ours != theirs).sum() <= 4
