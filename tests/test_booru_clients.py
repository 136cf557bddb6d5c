"""Search and listing against the fake booru (a real HTTP server on 127.0.0.1)."""

import socket
import time

import pytest

from tui_lora.commands._fixes import say
from tui_lora.core import booru
from tui_lora.core.booru.errors import CredentialsNeeded

FAST = booru.RetryPolicy(attempts=3, base_delay=0.01)


def client_for(srv, source, *, creds=True, **kw):
    credentials = None
    if creds and source == "gelbooru":
        credentials = booru.Credentials(*srv.gelbooru_credentials)
    if creds == "danbooru":
        credentials = booru.Credentials(*srv.danbooru_credentials)
    return booru.open_client(source, base_url=srv.base_url(source), credentials=credentials, retry=FAST,
                             api_rate=0, **kw)


def test_gelbooru_search_counts_previews_and_categorises(booru_server):
    c = client_for(booru_server, "gelbooru")
    res = booru.search(booru.build_query("gelbooru", "touhou"), client=c, preview=30)
    assert res.total_count == len(booru_server.posts)
    assert res.unusable_in_first_page == 3  # gif, mp4, zip
    assert [p.id for p in res.preview] == sorted((p.id for p in res.preview), reverse=True)
    p1002 = next(p for p in res.preview if p.id == 1002)
    assert p1002.categorised
    # HTML-escaped apostrophe undone, kaomoji kept, meta dropped, Danbooru order
    assert p1002.caption().startswith("kirisame marisa, touhou, zun, ")
    assert "jack-o'-lantern" in p1002.caption() and "^_^" in p1002.caption() and "highres" not in p1002.caption()
    api = booru_server.api_requests()
    assert all(r.headers["User-Agent"] == booru.USER_AGENT for r in api)
    assert all(r.query.get("api_key") == "gelkey-secret" for r in api)


def test_gelbooru_without_or_with_wrong_credentials(booru_server):
    q = booru.build_query("gelbooru", "touhou")
    with pytest.raises(CredentialsNeeded) as info:
        booru.search(q, client=client_for(booru_server, "gelbooru", creds=False))
    msg = say(info.value)  # as the CLI prints it
    assert "API Access Credentials" in msg and "--user-id" in msg and "--api-key" in msg and info.value.exit_code == 2
    wrong = booru.open_client("gelbooru", base_url=booru_server.base_url("gelbooru"), retry=FAST,
                              credentials=booru.Credentials("4242", "not-the-key"))
    with pytest.raises(booru.AuthError) as info:
        booru.search(q, client=wrong)
    assert "rejected" in info.value.message and "not-the-key" not in info.value.message


def test_gelbooru_single_result_is_a_bare_object_and_empty_has_no_post_key(booru_server):
    c = client_for(booru_server, "gelbooru")
    one = booru.search(booru.build_query("gelbooru", "jack-o'-lantern"), client=c)
    assert one.total_count == 1 and [p.id for p in one.preview] == [1002]
    none = booru.search(booru.build_query("gelbooru", "no_such_tag"), client=c)
    assert none.total_count == 0 and none.preview == []


def test_safebooru_bare_array_builds_urls_and_empty_body_means_nothing(booru_server):
    c = client_for(booru_server, "safebooru")
    res = booru.search(booru.build_query("safebooru", "touhou"), client=c, preview=40)
    assert res.total_count == len(booru_server.posts)  # from the XML count
    huge = next(p for p in res.preview if p.width == 4000)
    assert huge.file_url.startswith(booru_server.base_url("safebooru") + "/images/")
    assert huge.sample_url and "/samples/" in huge.sample_url
    assert next(p for p in res.preview if p.id == 1001).md5 == booru_server.post(1001).md5
    none = booru.search(booru.build_query("safebooru", "no_such_tag"), client=c)
    assert none.total_count == 0 and none.preview == []


def test_danbooru_posts_categories_and_hidden_files(booru_server):
    c = client_for(booru_server, "danbooru", creds=False)
    coll = booru.collect(booru.build_query("danbooru", "touhou"), 100, client=c)
    assert coll.skipped["no file URL (hidden by the site)"] == 1
    assert coll.skipped["video"] == 1 and coll.skipped["animated gif"] == 1
    p = next(p for p in coll.posts if p.id == 1001)
    assert p.tags["character"] == ("hakurei_reimu",) and p.rating == "general"
    assert booru.search(booru.build_query("danbooru", "touhou"), client=c).total_count == len(booru_server.posts)


def test_danbooru_two_tag_limit_before_and_from_the_server(booru_server):
    anon = client_for(booru_server, "danbooru", creds=False)
    q = booru.build_query("danbooru", "touhou 1girl solo")
    with pytest.raises(booru.QueryError, match="at most 2 tags"):
        booru.search(q, client=anon)
    assert booru_server.api_requests() == []  # refused before asking the site
    with pytest.raises(booru.QueryError, match="more than 2 tags"):
        anon.page(q, 0)  # the site says so too (422 TagLimitError)
    signed_in = client_for(booru_server, "danbooru", creds="danbooru")
    assert booru.search(q, client=signed_in).total_count > 0
    last = booru_server.api_requests()[-1]
    assert last.headers["Authorization"].startswith("Basic ") and "api_key" not in last.query


def test_danbooru_wrong_key(booru_server):
    c = booru.open_client("danbooru", base_url=booru_server.base_url("danbooru"), retry=FAST,
                          credentials=booru.Credentials("alice", "nope-secret"))
    with pytest.raises(booru.AuthError) as info:
        booru.search(booru.build_query("danbooru", "touhou"), client=c)
    assert "rejected" in info.value.message and "nope-secret" not in info.value.message


def test_api_429_waits_for_retry_after(booru_server):
    booru_server.throttle_api(1)
    t0 = time.monotonic()
    res = booru.search(booru.build_query("safebooru", "touhou"), client=client_for(booru_server, "safebooru"))
    assert time.monotonic() - t0 >= 1.0  # Retry-After: 1
    assert res.total_count == len(booru_server.posts)
    assert [r.status for r in booru_server.api_requests()][:2] == [429, 200]


def test_malformed_page_is_retried_then_listing_keeps_what_it_has(booru_server):
    booru_server.malformed_page("gelbooru", 0, times=1)
    c = client_for(booru_server, "gelbooru")
    assert booru.search(booru.build_query("gelbooru", "touhou"), client=c).total_count == len(booru_server.posts)
    c.page_size = 5
    booru_server.malformed_page("gelbooru", 1, times=None)
    coll = booru.collect(booru.build_query("gelbooru", "touhou"), 100, client=c)
    first_page = sorted(booru_server.posts, key=lambda p: -p.id)[:5]
    assert [p.id for p in coll.posts] == [p.id for p in first_page if p.ext in ("png", "jpg")]
    assert coll.pages == 1 and "not valid JSON" in say(coll.warnings[0])


def test_deep_paging_switches_to_id_ranges(booru_server):
    booru_server.max_offset = 10  # the site refuses pid * limit > 10
    c = client_for(booru_server, "gelbooru")
    c.page_size, c.max_offset = 4, 10
    coll = booru.collect(booru.build_query("gelbooru", "touhou"), 100, client=c)
    usable = [p for p in booru_server.posts if p.ext in ("png", "jpg")]
    assert sorted(p.id for p in coll.posts) == sorted(p.id for p in usable)
    assert any("id:<" in r.query.get("tags", "") for r in booru_server.api_requests())
    assert not coll.warnings
    # sorted by score there is no id to page by: stop with a warning instead of failing
    by_score = booru.collect(booru.build_query("gelbooru", "touhou", order="score"), 100, client=c)
    assert len(by_score.posts) < len(usable) and "cannot list more than 10" in say(by_score.warnings[0])


def test_danbooru_deep_pages_use_before_id(booru_server):
    booru_server.danbooru_max_page = 2
    c = client_for(booru_server, "danbooru", creds=False)
    c.page_size, c.max_offset = 5, 10
    coll = booru.collect(booru.build_query("danbooru", "touhou"), 100, client=c)
    assert len(coll.posts) == len(booru_server.posts) - 4  # gif, mp4, zip, hidden
    assert any(r.query.get("page", "").startswith("b") for r in booru_server.api_requests())


def test_collect_stops_at_the_limit_and_reports_progress(booru_server):
    c = client_for(booru_server, "safebooru")
    c.page_size = 4
    seen = []
    coll = booru.collect(booru.build_query("safebooru", "touhou", rating="general"), 5, client=c, progress=seen.append)
    assert len(coll.posts) == 5 and all(p.rating == "general" for p in coll.posts)
    assert seen[-1].found == 5 and seen[-1].wanted == 5
    assert coll.skipped.get("outside the rating/score filter", 0) > 0


def test_network_down_is_one_sentence_without_secrets():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    c = booru.open_client("gelbooru", base_url=f"http://127.0.0.1:{port}", retry=FAST,
                          credentials=booru.Credentials("1", "hidden-key"))
    with pytest.raises(booru.NetworkError) as info:
        booru.search(booru.build_query("gelbooru", "a"), client=c)
    assert "connection refused" in info.value.message and "hidden-key" not in info.value.message
    assert info.value.exit_code == 2


def test_base_url_must_be_http():
    with pytest.raises(booru.QueryError, match="not a web address"):
        booru.open_client("safebooru", base_url="ftp://example.com")
    with pytest.raises(booru.QueryError, match="user name or password"):
        booru.open_client("safebooru", base_url="https://me:pw@example.com")


def test_without_a_tag_api_captions_keep_the_sites_order(booru_server):
    booru_server.tag_api = False
    c = client_for(booru_server, "safebooru")
    coll = booru.collect(booru.build_query("safebooru", "touhou"), 100, client=c)
    p = next(p for p in coll.posts if p.id == 1001)
    assert not p.categorised
    assert p.caption().split(", ")[:3] == ["hakurei reimu", "touhou", "ke-ta"]  # the site's order
    assert "highres" not in p.caption()
    coll = booru.collect(booru.build_query("safebooru", "touhou"), 100, client=c)
    lookups = [r for r in booru_server.api_requests() if r.query.get("s") == "tag"]
    assert len(lookups) == 1  # gave up on the lookup after the first failure
