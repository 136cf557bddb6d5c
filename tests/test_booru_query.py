"""Queries, captions and credentials of the booru package (no network)."""

import os
import stat

import pytest

from tui_lora.commands._fixes import say
from tui_lora.core import booru
from tui_lora.core.booru.posts import Post, normalise_rating, tag_to_caption, unusable_reason
from tui_lora.core.booru.query import parse_tags


# ----- query --------------------------------------------------------------------------------------
def test_tags_in_booru_syntax_and_in_caption_syntax():
    assert parse_tags("1girl  solo -monochrome") == ("1girl", "solo", "-monochrome")
    assert parse_tags("hatsune miku, 1girl , -monochrome") == ("hatsune_miku", "1girl", "-monochrome")
    assert parse_tags(["long hair", " smile "]) == ("long_hair", "smile")


@pytest.mark.parametrize("source, expected", [
    ("gelbooru", "1girl -monochrome -rating:questionable -rating:explicit score:>=5 sort:score:desc"),
    ("safebooru", "1girl -monochrome score:>=5 sort:score:desc"),
    ("danbooru", "1girl -monochrome rating:g,s score:>=5 order:score"),
])
def test_filters_are_rendered_in_each_sites_dialect(source, expected):
    q = booru.build_query(source, "1girl -monochrome", rating="general,sensitive", min_score=5, order="score")
    assert q.text == expected
    assert q.ratings == ("general", "sensitive")


def test_single_rating_and_letters():
    assert booru.build_query("gelbooru", "a", rating="e").text == "a rating:explicit"
    assert booru.build_query("gelbooru", "a", rating="general,sensitive,questionable,explicit").text == "a"


def test_safebooru_filters_rating_locally_and_says_so():
    q = booru.build_query("safebooru", "a", rating="general")
    assert q.local_filters == ("rating",)
    assert q.matches(Post("safebooru", 1, "u", None, "png", rating="general"))
    assert not q.matches(Post("safebooru", 2, "u", None, "png", rating="questionable"))
    assert not booru.build_query("gelbooru", "a", min_score=10).matches(Post("gelbooru", 3, "u", None, "png", score=9))


@pytest.mark.parametrize("call, fragment", [
    (lambda: booru.build_query("pixiv", "a"), "Unknown source 'pixiv'; use one of gelbooru, safebooru, danbooru"),
    (lambda: booru.build_query("gelbooru", "   "), "The tag search is empty"),
    (lambda: booru.build_query("gelbooru", " , ,"), "The tag search is empty"),
    (lambda: booru.build_query("gelbooru", "a", rating="nsfw"), "Unknown rating 'nsfw'"),
    (lambda: booru.build_query("gelbooru", "a", order="random"), "use --order newest or --order score"),
])
def test_bad_queries_are_one_sentence_with_the_fix(call, fragment):
    with pytest.raises(booru.QueryError) as info:
        call()
    said = say(info.value)  # as the CLI prints it
    assert fragment in said
    assert info.value.exit_code == 2
    assert said.replace("e.g. ", "").count(". ") == 0 and said.endswith(".")


def test_danbooru_anonymous_tag_limit_counts_like_danbooru():
    ok = booru.build_query("danbooru", "1girl solo", rating="g", min_score=10)
    assert ok.danbooru_tag_count() == 2  # rating: and score: are free
    ok.check_danbooru_limit(authenticated=False)
    over = booru.build_query("danbooru", "1girl solo", order="score")  # order: counts
    assert over.danbooru_tag_count() == 3
    with pytest.raises(booru.QueryError) as info:
        over.check_danbooru_limit(authenticated=False)
    assert "at most 2 tags" in say(info.value) and "--api-key" in say(info.value)
    over.check_danbooru_limit(authenticated=True)


# ----- captions -----------------------------------------------------------------------------------
def test_caption_order_meta_dropped_spaces_and_kaomoji():
    post = Post("danbooru", 1, "u", None, "png", tags={
        "general": ("long_hair", "^_^", "smile", "o_o"),
        "artist": ("ke-ta",),
        "meta": ("highres", "commentary_request"),
        "copyright": ("touhou",),
        "character": ("hakurei_reimu",),
    })
    assert post.caption() == "hakurei reimu, touhou, ke-ta, long hair, ^_^, smile, o_o"


def test_uncategorised_tags_keep_order_but_drop_common_meta():
    post = Post("gelbooru", 1, "u", None, "png", tags={"general": ("1girl", "absurdres", "red_bow", "1girl")},
                categorised=False)
    assert post.caption() == "1girl, red bow"


def test_tag_to_caption():
    assert tag_to_caption("looking_at_viewer") == "looking at viewer"
    assert tag_to_caption("^_^") == "^_^"
    assert tag_to_caption(">_<") == ">_<"
    assert tag_to_caption("x_x") == "x_x"
    assert tag_to_caption("hatsune_miku_(cosplay)") == "hatsune miku (cosplay)"


def test_file_names_come_from_id_and_checked_extension():
    assert Post("gelbooru", 42, "u", None, "JPEG").filename == "gelbooru_42.jpg"
    assert Post("gelbooru", 42, "u", None, "png/../../x").filename == "gelbooru_42.bin"


def test_formats_and_ratings():
    assert unusable_reason("png") is None and unusable_reason("webp") is None
    assert unusable_reason("mp4") == "video" and unusable_reason("gif") == "animated gif"
    assert "zip" in unusable_reason("zip")
    assert normalise_rating("s", letters_are_danbooru=True) == "sensitive"
    assert normalise_rating("safe") == "general"
    assert normalise_rating("Questionable") == "questionable"


# ----- credentials --------------------------------------------------------------------------------
def test_credentials_flags_then_env_then_saved(monkeypatch, _isolated_user_config):
    assert booru.resolve_credentials("gelbooru") is None
    path = booru.save_credentials("gelbooru", booru.Credentials("77", "saved-key"))
    assert path.parent == _isolated_user_config
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert booru.resolve_credentials("gelbooru") == booru.Credentials("77", "saved-key")
    monkeypatch.setenv("TUI_LORA_GELBOORU_USER_ID", "88")
    monkeypatch.setenv("TUI_LORA_GELBOORU_API_KEY", "env-key")
    assert booru.resolve_credentials("gelbooru") == booru.Credentials("88", "env-key")
    assert booru.resolve_credentials("gelbooru", user_id="99", api_key="flag-key") == booru.Credentials("99", "flag-key")
    assert booru.forget_credentials("gelbooru")
    assert booru.stored_credentials("gelbooru") is None


def test_credentials_never_show_in_repr_and_half_given_is_an_error(monkeypatch):
    creds = booru.Credentials("12", "very-secret-key")
    assert "very-secret-key" not in repr(creds) and "very-secret-key" not in str(creds)
    with pytest.raises(booru.AuthError) as info:
        booru.resolve_credentials("gelbooru", user_id="12")
    assert "add --api-key" in say(info.value)
    with pytest.raises(booru.AuthError, match="is a number"):
        booru.resolve_credentials("gelbooru", user_id="alice", api_key="k")
    monkeypatch.setenv("TUI_LORA_DANBOORU_USER_ID", "alice")
    with pytest.raises(booru.AuthError, match="TUI_LORA_DANBOORU_API_KEY"):
        booru.resolve_credentials("danbooru")


def test_rate_limiter_spaces_requests_and_pauses_everyone():
    import time

    limiter = booru.RateLimiter(rate=20, burst=1)
    t0 = time.monotonic()
    for _ in range(5):
        limiter.wait()
    assert time.monotonic() - t0 >= 4 / 20 * 0.9
    limiter.pause(0.3)
    t1 = time.monotonic()
    limiter.wait()
    assert time.monotonic() - t1 >= 0.29


def test_retry_after_parsing_and_backoff():
    from tui_lora.core.booru.http import parse_retry_after

    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date in the past
    assert parse_retry_after("soon") is None
    policy = booru.RetryPolicy(base_delay=1, max_delay=5)
    assert 0.75 <= policy.delay(1) <= 1.25 and policy.delay(10) <= 6.25
    assert policy.delay(1, retry_after=500) == policy.max_retry_after


def test_cli_parser_does_not_load_the_http_stack():
    """`tui-lora --help` stays quick: the booru package loads requests only when fetch runs."""
    from test_import_hygiene import modules_after

    mods = modules_after("import tui_lora.cli; tui_lora.cli.build_parser()")
    assert "requests" not in mods and "tui_lora.core.booru.clients" not in mods
    mods = modules_after("from tui_lora.core import booru; booru.Query; booru.build_query")
    assert "requests" not in mods
    assert "requests" in modules_after("from tui_lora.core import booru; booru.search")
