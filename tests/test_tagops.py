"""Tag operations over a dataset, their snapshots, and byte-for-byte undo."""

import codecs
import json
import os
import stat
import threading

import pytest

from tui_lora.core.dataset import tagops
from tui_lora.core.dataset.undo import KEEP_LEVELS, history_dir, log_path, project_lock
from tui_lora.core.errors import RunAction, UndoConflict, UserError
from tui_lora.core.project import Project

# Odd but real captions: BOM, tabs, NBSP, duplicates, underscores, unicode, CRLF, no trailing newline.
CAPTIONS = {
    "img_0000": codecs.BOM_UTF8 + "ohwx, 1girl,\tlong_hair, striped shirt, absurdres, smile, smile\n".encode(),
    "img_0001": "1girl,\u00a0long hair, vertical stripes, highres, belfast (azur lane), 星空".encode(),
    "img_0002": "Long Hair, striped shirt, vertical stripes, commentary request, maid (azur lane)\r\n".encode(),
    "img_0003": b"",
}


@pytest.fixture
def proj(make_project):
    p = make_project(images=4, trigger="ohwx")
    folder = p.concepts()[0].path
    for stem, data in CAPTIONS.items():
        (folder / f"{stem}.txt").write_bytes(data)
    (folder / "img_0003.txt").unlink()  # one image without a caption
    return p


def snapshot_bytes(project):
    return {p.relative_to(project.root).as_posix(): p.read_bytes()
            for p in sorted(project.dataset_dir.rglob("*.txt"))} | {"project.toml": project.toml_path.read_bytes()}


def caption(project, stem):
    return (project.concepts()[0].path / f"{stem}.txt").read_text(encoding="utf-8")


def test_frequency_table_counts_images_once_and_merges_spellings(proj):
    t = tagops.frequency_table(proj)
    rows = {r.tag: (r.images, round(r.percent)) for r in t.rows}
    assert rows["long hair"] == (3, 75)  # long_hair / long hair / Long Hair are one tag
    assert rows["smile"] == (1, 25)  # a duplicate inside one caption counts once
    assert rows["星空"] == (1, 25)
    assert t.rows[0].tag == "long hair" and t.images == 4 and t.captioned == 3
    assert t.without_trigger_first == 2 and t.needs_cleaning >= 2
    assert [r.tag for r in tagops.frequency_table(proj, top=2).rows] == ["long hair", "1girl"]


def test_trigger_goes_first_everywhere_sets_keep_tokens_and_undoes_with_project_toml(proj):
    proj.set("dataset.keep_tokens", 0)
    proj.save()
    before = snapshot_bytes(proj)
    r = tagops.set_trigger(proj, "sks")
    assert r.settings == {"project.trigger_word": "sks", "dataset.keep_tokens": 1}
    for stem in ("img_0000", "img_0001", "img_0002", "img_0003"):
        tags = caption(proj, stem).split(", ")
        assert tags[0] == "sks" and "ohwx" not in caption(proj, stem)
    assert caption(proj, "img_0003") == "sks"  # the uncaptioned image got one
    reloaded = Project.load(proj.root)
    assert reloaded.get("project.trigger_word") == "sks" and reloaded.get("dataset.keep_tokens") == 1
    u = tagops.undo(proj)
    assert u.settings_restored and proj.get("project.trigger_word") == "ohwx"
    assert snapshot_bytes(proj) == before
    assert not (proj.concepts()[0].path / "img_0003.txt").exists()


def test_remove_replace_junk_pattern_dedupe_then_undo_every_level_byte_for_byte(proj):
    states = [snapshot_bytes(proj)]
    tagops.remove_junk(proj)
    states.append(snapshot_bytes(proj))
    assert "absurdres" not in caption(proj, "img_0000") and "commentary" not in caption(proj, "img_0002")
    tagops.replace_tags(proj, ["striped shirt", "vertical stripes"], "striped shirt")
    states.append(snapshot_bytes(proj))
    assert caption(proj, "img_0001") == "1girl, long hair, striped shirt, belfast (azur lane), 星空"
    assert caption(proj, "img_0002") == "Long Hair, striped shirt, maid (azur lane)\n"
    tagops.remove_pattern(proj, ["* (azur lane)"])
    states.append(snapshot_bytes(proj))
    assert "azur lane" not in caption(proj, "img_0001") + caption(proj, "img_0002")
    tagops.remove_tags(proj, ["LONG_HAIR"])
    states.append(snapshot_bytes(proj))
    assert "long" not in caption(proj, "img_0001").lower()
    tagops.dedupe(proj)
    assert (proj.concepts()[0].path / "img_0000.txt").read_bytes() == b"ohwx, 1girl, striped shirt, smile\n"
    assert [h.op for h in tagops.history(proj)] == ["dedupe", "remove", "remove-pattern", "replace", "junk"]
    for expected in reversed(states):
        tagops.undo(proj)
        assert snapshot_bytes(proj) == expected
    with pytest.raises(UserError, match="nothing to undo"):
        tagops.undo(proj)
    ops = [json.loads(line) for line in log_path(proj.root).read_text().splitlines()]
    assert sum("undid" in o for o in ops) == 5 and sum("undid" not in o for o in ops) == 5


def test_undo_restores_permission_bits(proj):
    p = proj.concepts()[0].path / "img_0001.txt"
    os.chmod(p, 0o640)
    tagops.remove_tags(proj, ["1girl"])
    os.chmod(p, 0o600)
    tagops.undo(proj, force=True)
    assert stat.S_IMODE(p.stat().st_mode) == 0o640 and p.read_bytes() == CAPTIONS["img_0001"]


def test_trigger_word_survives_junk_and_patterns(proj):
    tagops.remove_pattern(proj, ["*"])
    assert caption(proj, "img_0000") == "ohwx\n"
    assert caption(proj, "img_0001") == ""


def test_dry_run_reports_without_writing(proj):
    before = snapshot_bytes(proj)
    r = tagops.remove_tags(proj, ["smile"], dry_run=True)
    assert r.files_changed == 1 and r.changes[0].removed == ["smile", "smile"] and r.history_id is None
    assert snapshot_bytes(proj) == before and not tagops.history(proj)


def test_read_only_caption_means_nothing_is_written(proj):
    ro = proj.concepts()[0].path / "img_0002.txt"
    os.chmod(ro, 0o444)
    before = snapshot_bytes(proj)
    with pytest.raises(UserError) as e:
        tagops.remove_tags(proj, ["long hair"])
    assert e.value.message.startswith("Nothing was changed: dataset/") and "read-only" in e.value.message
    assert snapshot_bytes(proj) == before and not tagops.history(proj)


def test_non_utf8_caption_is_skipped_and_reported_never_touched(proj):
    bad = proj.concepts()[0].path / "img_0001.txt"
    bad.write_bytes("caf\xe9, long hair".encode("latin-1"))
    r = tagops.remove_tags(proj, ["long hair"])
    assert [p for p, _ in r.skipped] == [bad] and "not UTF-8" in r.skipped[0][1]
    assert bad.read_bytes() == "caf\xe9, long hair".encode("latin-1")
    assert tagops.frequency_table(proj).unreadable[0][0] == bad


def test_undo_refuses_to_clobber_later_hand_edits_unless_forced(proj):
    tagops.remove_tags(proj, ["1girl"])
    p = proj.concepts()[0].path / "img_0001.txt"
    p.write_text("edited by hand")
    with pytest.raises(UndoConflict, match="changed after the remove operation") as info:
        tagops.undo(proj)
    # The fix is data (the CLI says --force, the wizard asks "Undo anyway?"), the files are named.
    assert info.value.fix.steps == (RunAction("tags.undo_force", str(proj.root)),)
    assert info.value.files == ("dataset/10_ohwx/img_0001.txt",) and info.value.op == "remove"
    assert p.read_text() == "edited by hand"
    u = tagops.undo(proj, force=True)
    assert u.forced == ["dataset/10_ohwx/img_0001.txt"] and p.read_bytes() == CAPTIONS["img_0001"]


def test_interrupted_operation_is_rolled_back(proj, monkeypatch):
    before = snapshot_bytes(proj)
    from tui_lora.core.dataset import captions

    calls = []
    real = captions.write_bytes_preserving_mode

    def fail_second(path, data, mode=None):
        calls.append(path)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real(path, data, mode)

    monkeypatch.setattr(tagops, "write_bytes_preserving_mode", fail_second)
    with pytest.raises(UserError, match="Nothing was changed: writing .* failed \\(No space left on device\\)"):
        tagops.remove_tags(proj, ["long hair"])
    assert snapshot_bytes(proj) == before
    assert not list(history_dir(proj.root).glob("0*"))


def test_edit_caption_is_undoable(proj):
    img = proj.concepts()[0].path / "img_0003.png"
    tagops.edit_caption(proj, img, "ohwx, new,  tags")
    assert tagops.read_image_caption(proj, img).tags == ["ohwx", "new", "tags"]
    tagops.undo(proj)
    assert not tagops.read_image_caption(proj, img).exists


def test_find_images_by_tag_and_glob(proj):
    assert [f.image.stem for f in tagops.find_images(proj, "long_hair")] == ["img_0000", "img_0001", "img_0002"]
    found = tagops.find_images(proj, "* (azur lane)")
    assert [(f.image.stem, f.matched) for f in found] == [("img_0001", ["belfast (azur lane)"]),
                                                           ("img_0002", ["maid (azur lane)"])]


def test_replace_parsing_and_errors(proj):
    assert tagops.parse_replace("a, b = c") == (["a", "b"], "c")
    assert tagops.parse_replace("a=") == (["a"], "")
    with pytest.raises(UserError, match="has no '='"):
        tagops.parse_replace("a,b")
    with pytest.raises(UserError, match="one tag without commas"):
        tagops.set_trigger(proj, "a, b")


def test_junk_list_is_a_project_setting(proj):
    proj.set("tags.junk_tags", ["smile"])
    proj.save()
    assert Project.load(proj.root).get("tags.junk_tags") == ["smile"]
    r = tagops.remove_junk(proj)
    assert r.files_changed == 1 and "absurdres" in caption(proj, "img_0000")


def test_history_keeps_a_bounded_number_of_levels(proj, monkeypatch):
    monkeypatch.setattr("tui_lora.core.dataset.undo.KEEP_LEVELS", 2)
    for word in ("a", "b", "c"):
        tagops.edit_caption(proj, proj.concepts()[0].path / "img_0003.png", word)
    h = tagops.history(proj)
    assert [x.undoable for x in h] == [True, True, False] and KEEP_LEVELS == 200


def test_second_operation_while_one_runs_is_refused(proj):
    started, release = threading.Event(), threading.Event()

    def hold():
        with project_lock(proj.root):
            started.set()
            release.wait(10)

    t = threading.Thread(target=hold)
    t.start()
    started.wait(10)
    try:
        with pytest.raises(UserError, match="Another caption operation is running"):
            tagops.remove_tags(proj, ["smile"])
    finally:
        release.set()
        t.join()


def test_token_warning_uses_the_models_tokenizer_when_local(proj, tmp_path):
    from tui_lora.demo.tiny_models import write_tiny_tokenizer

    model = tmp_path / "model"
    write_tiny_tokenizer(model / "tokenizer")
    proj.set("model.pretrained_model_name_or_path", str(model))
    proj.set("training.max_token_length", 75)
    rep = tagops.token_report(proj)
    assert rep.exact and rep.method.startswith("tokenizer") and rep.warning is None
    from transformers import CLIPTokenizer

    tok = CLIPTokenizer.from_pretrained(model / "tokenizer")
    text = "Long Hair, striped shirt, vertical stripes, commentary request, maid (azur lane)"
    assert rep.longest_path.stem == "img_0002" and rep.longest == len(tok(text, add_special_tokens=False).input_ids)
    (proj.concepts()[0].path / "img_0001.txt").write_text("1girl, " + "smile, " * 20)
    rep = tagops.token_report(proj)
    assert rep.longest_path.stem == "img_0001" and rep.longest > 75 and len(rep.over) == 1
    assert "1 caption(s) exceed training.max_token_length = 75" in rep.warning


def test_token_estimate_without_a_local_tokenizer(proj):
    from tui_lora.core.dataset.tokens import approximate_tokens

    rep = tagops.token_report(proj)
    assert not rep.exact and rep.method == "approximation" and rep.warning is None
    assert approximate_tokens("long hair, smile") == 4
    assert approximate_tokens("extraordinarily") == 3
    long_caption = ", ".join(f"tag{i} word" for i in range(40))
    (proj.concepts()[0].path / "img_0001.txt").write_text(long_caption)
    rep = tagops.token_report(proj)
    assert rep.longest_path.stem == "img_0001" and rep.longest == approximate_tokens(long_caption) > 75
