"""A hostile booru behind --base-url (issue 14 items 3, 4, 8, 9, 10, 11, 14): a real HTTP server on
127.0.0.1 answers what an attacker would; every refusal is one sentence, nothing outside changes."""

from __future__ import annotations

import json
import stat
import time

import pytest
from _hostile import make_outside, one_sentence, tree_state
from hostile_server import HostileServer, endless, json_body, md5, png_bytes, raw, redirect, send, trickle

from tui_lora.core import booru
from tui_lora.core.booru import netguard


@pytest.fixture
def project(make_project):
    return make_project(images=0, trigger="reimu")


@pytest.fixture
def srv():
    with HostileServer() as s:
        yield s


def fetch(run_cli, project, base_url, *more, source="safebooru"):
    return run_cli("fetch", project.root, "--tags=touhou", "--source", source, "--base-url", base_url, *more)


def gel_post(pid: int, url: str, data: bytes, tags: str = "hakurei_reimu 1girl") -> dict:
    return {"id": pid, "file_url": url, "md5": md5(data), "image": f"{pid}.png", "width": 64, "height": 64,
            "rating": "general", "score": 1, "tags": tags}


def serve_posts(srv, posts: list[dict], files: dict[str, bytes]) -> None:
    srv.answer("/index.php", json_body({"@attributes": {"count": len(posts)}, "post": posts}))
    for path, data in files.items():
        srv.answer(path, raw(data))


# ----- item 3: saved credentials belong to one origin -----------------------------------------------
def test_old_saved_credentials_go_only_to_the_sites_own_https_origin(run_cli, project, booru_server,
                                                                      _isolated_user_config):
    uid, key = booru_server.gelbooru_credentials
    (_isolated_user_config / "credentials.toml").write_text(f'[gelbooru]\nuser_id = "{uid}"\napi_key = "{key}"\n')
    assert booru.stored_credentials("gelbooru") == booru.Credentials(uid, key)  # the old format still reads
    base = booru_server.base_url("gelbooru")
    r = fetch(run_cli, project, base, "--dry-run", source="gelbooru")
    assert r.returncode == 2 and key not in r.stdout + r.stderr
    origin = booru_server.url
    assert f"Your saved gelbooru credentials are for https://gelbooru.com, so none were sent to {origin};" in r.stdout
    one_sentence(r.stderr)
    assert booru_server.api_requests() and not [q for q in booru_server.api_requests()
                                                if "api_key" in q.query or "user_id" in q.query]


def test_credentials_saved_for_one_server_are_not_sent_to_another(run_cli, project, booru_server, srv,
                                                                   _isolated_user_config):
    uid, key = booru_server.gelbooru_credentials
    (_isolated_user_config / "credentials.toml").write_text('[gelbooru]\nuser_id = "1"\napi_key = "old-key"\n')
    r = fetch(run_cli, project, booru_server.base_url("gelbooru"), "--dry-run", "--user-id", uid, "--api-key", key,
              "--save-credentials", source="gelbooru")
    assert r.returncode == 0, r.stderr
    saved = _isolated_user_config / "credentials.toml"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert booru.stored_credentials("gelbooru", booru_server.base_url("gelbooru")) == booru.Credentials(uid, key)
    assert booru.stored_credentials("gelbooru") == booru.Credentials("1", "old-key")  # migrated, kept
    assert "[gelbooru]" not in saved.read_text()
    # the same origin (another path on it) gets them; another port is another origin and gets none
    r = fetch(run_cli, project, booru_server.base_url("gelbooru"), "--dry-run", source="gelbooru")
    assert r.returncode == 0, r.stderr
    serve_posts(srv, [], {})
    r = fetch(run_cli, project, srv.url, "--dry-run", source="gelbooru")
    assert r.returncode == 0 and "none were sent to" in r.stdout
    assert srv.requests and all("api_key" not in q and "user_id" not in q for _, q in srv.requests)


def test_saved_https_credentials_are_not_sent_over_plain_http():
    booru.save_credentials("danbooru", booru.Credentials("alice", "k"), base_url="https://booru.example:8443")
    assert booru.resolve_credentials("danbooru", base_url="https://booru.example:8443/") is not None
    assert booru.resolve_credentials("danbooru", base_url="http://booru.example:8443") is None
    assert booru.resolve_credentials("danbooru", base_url="https://booru.example") is None
    withheld = booru.withheld_note("danbooru", "http://booru.example:8443")
    assert "none were sent to http://booru.example:8443" in str(withheld)


def test_a_key_on_the_command_line_is_warned_about_once(run_cli, project, booru_server):
    uid, key = booru_server.gelbooru_credentials
    r = fetch(run_cli, project, booru_server.base_url("gelbooru"), "--dry-run", "--json", "--user-id", uid,
              "--api-key", key, source="gelbooru")
    assert r.returncode == 0
    assert r.stderr.count("`ps`") == 1 and "TUI_LORA_GELBOORU_API_KEY" in r.stderr and key not in r.stderr
    json.loads(r.stdout)  # the note stays out of the JSON
    assert "`ps`" in run_cli("fetch", "--help").stdout


# ----- item 4: size and time caps, a page budget --------------------------------------------------------
def test_an_endless_api_answer_is_cut_off_in_one_sentence(run_cli, project, srv):
    srv.answer("/index.php", endless)
    t0 = time.monotonic()
    r = fetch(run_cli, project, srv.url, "--dry-run")
    assert r.returncode == 2 and time.monotonic() - t0 < 60
    assert "larger than 8 MB" in one_sentence(r.stderr)


def test_a_one_byte_a_second_api_answer_hits_the_deadline(srv):
    srv.answer("/index.php", trickle)
    client = booru.open_client("safebooru", base_url=srv.url)
    client.http.deadline = 2.0
    t0 = time.monotonic()
    with pytest.raises(booru.NetworkError) as exc:
        booru.search(booru.build_query("safebooru", "touhou"), client=client)
    assert time.monotonic() - t0 < 10
    assert "took more than 2 s to answer one request" in one_sentence(exc.value.message)


def test_a_one_byte_a_second_file_hits_the_deadline(srv, tmp_path):
    data = png_bytes()
    srv.answer("/f/1.png", lambda h: trickle(h, data))
    post = booru.Post("safebooru", 1, f"{srv.url}/f/1.png", md5(data), "png")
    t0 = time.monotonic()
    report = booru.download([post], tmp_path / "10_x", options=booru.DownloadOptions(deadline=2.0), base_url=srv.url)
    assert time.monotonic() - t0 < 15
    assert report.failed and "took more than 2 s for this file" in report.failed[0].reason


def test_pages_of_unusable_posts_end_with_a_sentence(srv):
    def gifs(h):
        pid = int(h.path.split("pid=")[1].split("&")[0])
        posts = [{"id": 10_000_000 - pid * 100 - i, "file_url": f"{srv.url}/x.gif", "image": "x.gif", "tags": "a"}
                 for i in range(100)]
        send(h, json.dumps(posts).encode())

    srv.answer("/index.php", gifs)
    client = booru.open_client("safebooru", base_url=srv.url, api_rate=0)
    coll = booru.collect(booru.build_query("safebooru", "touhou"), 1, client=client)
    assert coll.posts == [] and coll.pages == 20 == srv.hits("/index.php")
    assert len(coll.warnings) == 1 and "Stopped listing after 20 pages" in one_sentence(str(coll.warnings[0]))


# ----- item 8: the same post twice ---------------------------------------------------------------------
def test_a_post_listed_twice_is_downloaded_once(run_cli, project, srv):
    a, b, c = png_bytes(1), png_bytes(2), png_bytes(3)
    posts = [gel_post(5, f"{srv.url}/a.png", a), gel_post(5, f"{srv.url}/b.png", b), gel_post(6, f"{srv.url}/c.png", c),
             gel_post(5, f"{srv.url}/a.png", a)]
    serve_posts(srv, posts, {"/a.png": a, "/b.png": b, "/c.png": c})
    r = fetch(run_cli, project, srv.url, "--yes", "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)["download"]
    assert report["downloaded"] == 2 and not report["failed"]
    folder = project.concepts()[0].path
    assert (folder / "safebooru_5.png").read_bytes() == a and (folder / "safebooru_6.png").read_bytes() == c
    assert not list(folder.glob(".*"))


# ----- item 9: where files and redirects may go --------------------------------------------------------
def test_files_elsewhere_are_refused_without_a_request(run_cli, project, srv, tmp_path):
    data = png_bytes()
    posts = [gel_post(1, "http://169.254.169.254/latest/meta-data/x.png", data),
             gel_post(2, "http://[::1]:22/x.png", data),
             gel_post(3, f"{srv.url}/moved.png", data),  # redirects to another host
             gel_post(4, f"{srv.url}/ok.png", data)]
    serve_posts(srv, posts, {"/ok.png": data})
    srv.answer("/moved.png", redirect(f"http://localhost:{srv.url.rsplit(':', 1)[1]}/ok.png"))
    t0 = time.monotonic()
    r = fetch(run_cli, project, srv.url, "--yes", "--json")
    assert r.returncode == 0 and time.monotonic() - t0 < 60, r.stderr
    items = {i["id"]: i for i in json.loads(r.stdout)["download"]["items"]}
    assert items[4]["status"] == "downloaded"
    for pid, host in ((1, "169.254.169.254"), (2, "::1"), (3, "localhost")):
        assert items[pid]["status"] == "skipped"
        assert f"on {host}, which is not one of the site's hosts" in items[pid]["reason"]
    assert srv.hits("/moved.png") == 1 and srv.hits("/ok.png") == 1  # the redirect was not followed


def test_an_api_redirect_to_another_host_is_one_sentence(run_cli, project, srv):
    port = srv.url.rsplit(":", 1)[1]
    srv.answer("/index.php", redirect(f"http://localhost:{port}/elsewhere.php"))
    r = fetch(run_cli, project, srv.url, "--dry-run")
    assert r.returncode == 2
    assert f"sent the request on to localhost:{port}, which is another site" in one_sentence(r.stderr)
    assert srv.hits("/elsewhere.php") == 0


def test_address_kinds_and_site_hosts():
    assert [netguard.address_kind(h) for h in ("127.0.0.1", "::1", "::ffff:127.0.0.1", "169.254.169.254",
                                                "10.1.2.3", "192.168.0.9", "8.8.8.8", "0.0.0.0")] == [
        "loopback", "loopback", "loopback", "link-local", "private", "private", "public", "special"]
    gel = netguard.HostPolicy("https://gelbooru.com")
    assert gel.refusal("https://img3.gelbooru.com/images/a.png") is None
    assert "not one of the site's hosts" in gel.refusal("https://evil.example/a.png")
    assert "not one of the site's hosts" in gel.refusal("http://169.254.169.254/a.png")
    assert netguard.HostPolicy("https://danbooru.donmai.us").refusal("https://cdn.donmai.us/a.png") is None
    home = netguard.HostPolicy("http://192.168.1.5:8080")  # a self-hosted booru on the LAN
    assert home.refusal("http://192.168.1.5:8081/a.png") is None
    assert home.refusal("file:///etc/passwd") is not None


# ----- item 10: control and bidi characters in tags and reasons ----------------------------------------
def test_control_characters_never_reach_captions_or_the_terminal(run_cli, project, srv):
    data = png_bytes()
    tags = "hakurei_reimu red&#10;evil \x1b[2J\x1b]0;pwned\x07bell left&#13;&#9;tab \u202eevil_rtl line\u2028sep"
    serve_posts(srv, [gel_post(1, f"{srv.url}/1.png", data, tags)], {"/1.png": data})
    r = fetch(run_cli, project, srv.url, "--yes")
    assert r.returncode == 0, r.stderr
    assert "\x1b" not in r.stdout + r.stderr and "\u202e" not in r.stdout
    caption = (project.concepts()[0].path / "safebooru_1.txt").read_text(encoding="utf-8")
    assert caption == "hakurei reimu, redevil, [2J]0;pwnedbell, lefttab, evil rtl, line, sep"
    srv.answer("/index.php", lambda h: send(h, b"no", status=418, reason="\x1b[31mred\x1b[0m teapot"))
    r = fetch(run_cli, project, srv.url, "--dry-run")
    assert r.returncode == 2 and "\x1b" not in r.stderr and "HTTP 418 [31mred[0m teapot" in one_sentence(r.stderr)


# ----- item 11: wrong JSON types ---------------------------------------------------------------------
@pytest.mark.parametrize("source, body, code", [
    ("gelbooru", {"@attributes": [1, 2], "post": []}, 0),
    ("gelbooru", {"@attributes": "x", "post": None}, 0),
    ("gelbooru", {"@attributes": {"count": "many"}, "post": 5}, 2),
    ("gelbooru", {"post": "text"}, 2),
    ("gelbooru", {"post": [1, "two", None]}, 0),
    ("gelbooru", {"post": [{"id": {"nested": 1}, "tags": ["a"]}, {"id": 3, "tags": 7, "file_url": 5}]}, 0),
    ("safebooru", {"post": 5}, 2),
    ("safebooru", [{"id": 1, "directory": ["x"], "image": {"y": 1}, "sample": [1]}], 0),
    ("safebooru", 42, 2),
    ("danbooru", {"post": 5}, 2),
    ("danbooru", [{"id": 1, "tag_string_general": 5, "file_ext": ["png"], "file_url": None}], 0),
    ("danbooru", "a string", 2),
])
def test_wrong_json_types_are_one_sentence(run_cli, project, srv, source, body, code):
    for path in ("/index.php", "/posts.json", "/counts/posts.json"):
        srv.answer(path, json_body(body))
    r = fetch(run_cli, project, srv.url, "--dry-run", source=source)
    assert r.returncode == code, r.stdout + r.stderr
    if code:
        assert "sent an answer of an unexpected shape" in one_sentence(r.stderr)
    else:
        assert "Unexpected error" not in r.stdout + r.stderr and "Traceback" not in r.stderr


# ----- item 5: a planted temp-file link ---------------------------------------------------------------------
def test_a_planted_temp_link_is_not_followed(run_cli, project, srv, tmp_path):
    outside = make_outside(tmp_path)
    data = png_bytes()
    serve_posts(srv, [gel_post(1, f"{srv.url}/1.png", data)], {"/1.png": data})
    folder = project.concepts()[0].path
    (folder / ".safebooru_1.txt.tmp").symlink_to(outside / "victim.txt")
    (folder / ".safebooru_1.png.part").symlink_to(outside / "keys" / "id")
    before = tree_state(outside)
    r = fetch(run_cli, project, srv.url, "--yes")
    assert r.returncode == 0, r.stderr
    assert tree_state(outside) == before
    caption = folder / "safebooru_1.txt"
    assert not caption.is_symlink() and caption.read_text() == "hakurei reimu, 1girl"
    assert (folder / "safebooru_1.png").read_bytes() == data
