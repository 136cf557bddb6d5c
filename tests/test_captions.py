"""Caption files: robust reading, tag parsing/formatting, safe writing."""

import codecs
import os
import stat

import pytest

from tui_lora.core.dataset.captions import (
    caption_path, clean_tag, dedupe_tags, format_tags, normalize_tag, parse_tags, read_caption, read_only_reason,
    tag_key, write_caption,
)
from tui_lora.core.errors import UserError


def test_parse_handles_odd_whitespace_separators_and_empties():
    text = "\ufeff1girl,\tlong   hair ,\u00a0smile\u3000,, \n\nblue\u200beyes\r\nopen\u2028mouth，star (symbol) ,"
    assert parse_tags(text) == ["1girl", "long hair", "smile", "blueeyes", "open", "mouth", "star (symbol)"]


def test_parse_keeps_order_duplicates_and_unicode_nfc():
    decomposed = "cafe\u0301"  # é as e + combining accent
    assert parse_tags(f"b, a, b, {decomposed}, 星空, ^_^") == ["b", "a", "b", "caf\u00e9", "星空", "^_^"]
    assert format_tags(["a", "b c"]) == "a, b c"
    assert clean_tag("  x \t y ") == "x y"


def test_tag_identity_ignores_case_underscores_and_escapes_but_not_kaomoji():
    assert tag_key("Long_Hair") == tag_key("long hair")
    assert tag_key("hatsune miku \\(vocaloid\\)") == tag_key("hatsune_miku_(vocaloid)")
    assert tag_key("^_^") == "^_^" and tag_key("^_^") != tag_key("^ ^")
    assert normalize_tag("long_hair") == "long hair" and normalize_tag("o_o") == "o_o"
    assert dedupe_tags(["smile", "Smile", "long_hair", "long hair", "^_^", "^_^"]) == ["smile", "long_hair", "^_^"]


def test_read_caption_with_bom_duplicates_and_trailing_newline(tmp_path):
    p = tmp_path / "a.txt"
    p.write_bytes(codecs.BOM_UTF8 + "ohwx,  smile, smile\n".encode())
    cf = read_caption(p)
    assert cf.exists and cf.error is None and cf.has_bom
    assert cf.tags == ["ohwx", "smile", "smile"]  # the BOM is not glued to the trigger word
    assert not cf.is_canonical
    assert cf.canonical_bytes(dedupe_tags(cf.tags)) == b"ohwx, smile\n"


def test_read_caption_utf16_missing_blank_and_non_utf8(tmp_path):
    u16 = tmp_path / "u16.txt"
    u16.write_bytes("星, smile".encode("utf-16"))
    assert read_caption(u16).tags == ["星", "smile"] and read_caption(u16).encoding == "utf-16"
    missing = read_caption(tmp_path / "nope.txt")
    assert not missing.exists and missing.empty and missing.error is None
    blank = tmp_path / "blank.txt"
    blank.write_text(" \n\t ")
    assert read_caption(blank).exists and read_caption(blank).empty
    latin = tmp_path / "latin.txt"
    latin.write_bytes("café, smile".encode("latin-1"))
    cf = read_caption(latin)
    assert cf.error and "not UTF-8" in cf.error and cf.tags == [] and not cf.empty
    binary = tmp_path / "bin.txt"
    binary.write_bytes(b"a\x00b")
    assert "NUL" in read_caption(binary).error


def test_caption_path_follows_kohya_naming(tmp_path):
    assert caption_path(tmp_path / "img.01.png") == tmp_path / "img.01.txt"
    assert caption_path(tmp_path / "x.jpg", "caption") == tmp_path / "x.caption"


def test_write_caption_is_atomic_keeps_mode_and_newline_habit(tmp_path):
    p = tmp_path / "a.txt"
    p.write_text("old\n")
    os.chmod(p, 0o640)
    write_caption(p, ["new", "tags"])
    assert p.read_bytes() == b"new, tags\n"
    assert stat.S_IMODE(p.stat().st_mode) == 0o640
    assert [f.name for f in tmp_path.iterdir()] == ["a.txt"]  # no temporary file left behind
    fresh = tmp_path / "b.txt"
    write_caption(fresh, "one sentence, two")
    assert fresh.read_bytes() == b"one sentence, two"
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o666 & ~_umask()


def _umask():
    m = os.umask(0)
    os.umask(m)
    return m


def test_read_only_caption_is_refused_in_one_sentence(tmp_path):
    p = tmp_path / "a.txt"
    p.write_text("keep")
    os.chmod(p, 0o444)
    assert read_only_reason(p) == "it is read-only"
    with pytest.raises(UserError) as e:
        write_caption(p, ["x"])
    assert "read-only" in e.value.message and "\n" not in e.value.message
    assert p.read_text() == "keep"
