"""The downloader against the fake booru: verified, resumable, parallel, and never outside its folder."""

import hashlib
import io
import os
import threading
import time

import pytest
from PIL import Image

from tui_lora.core import booru
from tui_lora.core.booru.posts import Post

FAST = booru.RetryPolicy(attempts=3, base_delay=0.01)
OPTS = booru.DownloadOptions(retry=FAST)


def listing(srv, source="safebooru", tags="touhou", **query):
    creds = booru.Credentials(*srv.gelbooru_credentials) if source == "gelbooru" else None
    client = booru.open_client(source, base_url=srv.base_url(source), credentials=creds, retry=FAST, api_rate=0)
    return booru.collect(booru.build_query(source, tags, **query), 100, client=client).posts


def md5(path):
    return hashlib.md5(path.read_bytes()).hexdigest()


def everything_under(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_download_verifies_names_and_writes_captions(booru_server, tmp_path):
    posts = listing(booru_server)
    dest = tmp_path / "dataset" / "10_reimu"
    report = booru.download(posts, dest, jobs=4, options=OPTS)
    assert len(report.downloaded) == len(posts) and not report.failed and not report.cancelled
    for post in posts:
        image = dest / f"safebooru_{post.id}.{post.ext}"
        assert md5(image) == booru_server.post(post.id).md5
        assert (dest / f"safebooru_{post.id}.txt").read_text() == post.caption()
    assert not list(dest.glob(".*"))  # no .part files left
    assert report.bytes == sum(len(booru_server.post(p.id).data) for p in posts)
    d = report.to_dict()
    assert d["downloaded"] == len(posts) and d["items"][0]["status"] == "downloaded"


def test_rerun_skips_finished_images_and_restores_only_missing_captions(booru_server, tmp_path):
    posts = listing(booru_server)
    dest = tmp_path / "10_x"
    booru.download(posts, dest, options=OPTS)
    first = posts[0]
    (dest / f"safebooru_{first.id}.txt").unlink()
    edited = dest / f"safebooru_{posts[1].id}.txt"
    edited.write_text("my own caption")
    before = len(booru_server.file_requests())
    report = booru.download(posts, dest, options=OPTS)
    assert len(report.existing) == len(posts) and not report.downloaded
    assert len(booru_server.file_requests()) == before  # nothing fetched again
    assert (dest / f"safebooru_{first.id}.txt").read_text() == first.caption()
    assert edited.read_text() == "my own caption"


def test_images_moved_to_trash_are_not_fetched_again(booru_server, tmp_path):
    posts = listing(booru_server)[:3]
    dest = tmp_path / "dataset" / "10_x"
    booru.download(posts, dest, options=OPTS)
    trash = tmp_path / "dataset" / ".trash" / "10_x"
    trash.mkdir(parents=True)
    name = f"safebooru_{posts[0].id}.{posts[0].ext}"
    (dest / name).rename(trash / name)
    report = booru.download(posts, dest, options=OPTS)
    assert [i.reason for i in report.skipped] == ["removed earlier (it is in dataset/.trash)"]
    assert not (dest / name).exists()


def noise_png(side):
    buf = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(buf, format="PNG")
    return buf.getvalue()


def test_truncated_body_is_resumed_with_a_range_request(booru_server, tmp_path):
    booru_server.post(1001).data = noise_png(300)  # big enough that the first half arrives in whole chunks
    post = next(p for p in listing(booru_server) if p.id == 1001)
    booru_server.quirk(1001, "truncate", times=1)
    report = booru.download([post], tmp_path, options=OPTS)
    assert len(report.downloaded) == 1
    assert md5(tmp_path / "safebooru_1001.png") == booru_server.post(1001).md5
    reqs = booru_server.file_requests(1001)
    assert len(reqs) == 2 and "Range" not in reqs[0].headers and reqs[1].headers["Range"].startswith("bytes=")
    assert reqs[1].status == 206


def test_wrong_md5_is_retried_and_never_kept(booru_server, tmp_path):
    posts = {p.id: p for p in listing(booru_server)}
    booru_server.quirk(1001, "corrupt", times=1)
    booru_server.quirk(1003, "corrupt", times=None)
    report = booru.download([posts[1001], posts[1003]], tmp_path, options=OPTS)
    assert [i.post_id for i in report.downloaded] == [1001]
    assert [(i.post_id, i.reason) for i in report.failed] == [(1003, "checksum mismatch after 3 tries")]
    assert everything_under(tmp_path) == ["safebooru_1001.png", "safebooru_1001.txt"]


def test_slow_response_times_out_and_is_retried(booru_server, tmp_path):
    post = next(p for p in listing(booru_server) if p.id == 1001)
    booru_server.slow_seconds = 1.0
    booru_server.quirk(1001, "slow", times=1)
    opts = booru.DownloadOptions(retry=FAST, timeout=(2.0, 0.3))
    report = booru.download([post], tmp_path, options=opts)
    assert len(report.downloaded) == 1 and len(booru_server.file_requests(1001)) == 2


def test_429_retry_after_is_honoured_and_5xx_retried_404_not(booru_server, tmp_path):
    posts = {p.id: p for p in listing(booru_server)}
    booru_server.quirk(1001, "429", times=1)
    booru_server.quirk(1003, "500", times=1)
    booru_server.quirk(1005, "404", times=1)
    booru_server.quirk(1007, "close", times=1)
    t0 = time.monotonic()
    report = booru.download([posts[i] for i in (1001, 1003, 1005, 1007)], tmp_path, jobs=4, options=OPTS)
    assert time.monotonic() - t0 >= 1.0  # Retry-After: 1
    assert sorted(i.post_id for i in report.downloaded) == [1001, 1003, 1007]
    assert [(i.post_id, i.reason.split(" from ")[0]) for i in report.failed] == [(1005, "HTTP 404")]
    assert len(booru_server.file_requests(1005)) == 1


def test_hostile_names_and_planted_links_never_escape_the_folder(booru_server, tmp_path):
    dest = tmp_path / "dataset" / "10_x"
    dest.mkdir(parents=True)
    outside = tmp_path / "outside.png"
    outside.write_bytes(b"keep me")
    posts = listing(booru_server, "gelbooru")
    hostile = next(p for p in posts if p.id == 1025)  # its site name is ../../../../tmp/evil...
    (dest / ".gelbooru_1001.png.part").symlink_to(outside)  # a link where the .part will go
    report = booru.download(posts, dest, options=OPTS)
    assert not report.failed
    assert (dest / "gelbooru_1025.png").is_file() and md5(dest / "gelbooru_1025.png") == booru_server.post(1025).md5
    assert hostile.file_url and "%2F" in hostile.file_url
    assert outside.read_bytes() == b"keep me"
    assert not (dest / ".gelbooru_1001.png.part").exists()
    assert everything_under(tmp_path) == sorted(["dataset", "dataset/10_x", "outside.png"] + [
        f"dataset/10_x/gelbooru_{p.id}.{e}" for p in posts for e in (p.ext, "txt")])


def test_size_cap_uses_the_sample_when_there_is_one(booru_server, tmp_path):
    big = noise_png(200)
    booru_server.post(1024).data = big  # the huge post, which has a sample
    booru_server.post(1001).data = big  # no sample
    cap = 60_000
    opts = booru.DownloadOptions(retry=FAST, max_bytes=cap)
    for source in ("safebooru", "danbooru"):  # Content-Length vs the API's file_size
        dest = tmp_path / source
        posts = [p for p in listing(booru_server, source) if p.id in (1001, 1003, 1024)]
        report = booru.download(posts, dest, options=opts)
        by_id = {i.post_id: i for i in report.items}
        assert by_id[1001].status == "skipped" and "size cap" in by_id[1001].reason
        assert by_id[1003].status == "downloaded"
        assert by_id[1024].status == "downloaded" and by_id[1024].used_sample
        assert Image.open(dest / f"{source}_1024.jpg").size == (40, 40)
        assert not list(dest.glob(".*"))


def test_sample_for_huge_originals_is_optional(booru_server, tmp_path):
    post = next(p for p in listing(booru_server, "gelbooru") if p.id == 1024)
    assert post.pixels == 4000 * 4000
    report = booru.download([post], tmp_path / "a", options=OPTS)
    assert report.downloaded[0].path.name == "gelbooru_1024.png"
    opts = booru.DownloadOptions(retry=FAST, use_sample_for_huge=True)
    report = booru.download([post], tmp_path / "b", options=opts)
    assert report.downloaded[0].path.name == "gelbooru_1024.jpg" and report.downloaded[0].used_sample


def test_formats_training_cannot_use_are_skipped(tmp_path):
    posts = [Post("danbooru", 1, "http://127.0.0.1:9/a.mp4", None, "mp4"),
             Post("danbooru", 2, "http://127.0.0.1:9/a.zip", None, "zip")]
    report = booru.download(posts, tmp_path, options=OPTS)
    assert [i.reason for i in report.skipped] == ["video", "zip (ugoira animation)"]
    assert everything_under(tmp_path) == []


def test_a_server_that_cannot_be_reached_is_told_apart_from_other_failures(booru_server, tmp_path):
    import socket

    with socket.socket() as s:  # a port nothing listens on: every connection is refused
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    posts = [Post("danbooru", 1, f"http://127.0.0.1:{closed}/a.png", None, "png")]
    report = booru.download(posts, tmp_path / "a", options=OPTS)
    assert [(i.status, i.connection_failed) for i in report.failed] == [("failed", True)]
    assert "could not connect" in report.failed[0].reason
    booru_server.quirk(1005, "404", times=1)  # reached, and answered: not a connection failure
    post = next(p for p in listing(booru_server) if p.id == 1005)
    report = booru.download([post], tmp_path / "b", options=OPTS)
    assert [(i.status, i.connection_failed) for i in report.failed] == [("failed", False)]

def test_not_enough_free_space_is_refused_before_starting(tmp_path):
    posts = [Post("danbooru", 1, "http://127.0.0.1:9/a.png", "0" * 32, "png", file_size=1 << 60)]
    with pytest.raises(booru.DiskFullError) as info:
        booru.download(posts, tmp_path, options=OPTS)
    assert "free some space" in info.value.message and info.value.exit_code == 2


def test_cancel_stops_quickly_leaving_only_part_files_that_the_next_run_resumes(booru_server, tmp_path):
    for pid in (1001, 1003, 1005):
        booru_server.post(pid).data = noise_png(300)  # the first half spans whole chunks
    posts = [p for p in listing(booru_server) if p.id in (1001, 1003, 1005)]
    booru_server.slow_seconds = 5
    for p in posts:
        booru_server.quirk(p.id, "stall", times=1)
    cancel = threading.Event()
    result = {}
    worker = threading.Thread(target=lambda: result.update(r=booru.download(posts, tmp_path, jobs=3, options=OPTS,
                                                                             cancel=cancel)))
    worker.start()
    deadline = time.monotonic() + 5
    while len(list(tmp_path.glob(".*.part"))) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.1)
    t0 = time.monotonic()
    cancel.set()
    worker.join(5)
    assert not worker.is_alive() and time.monotonic() - t0 < 2  # did not wait out the 5 s stall
    assert result["r"].cancelled and not result["r"].downloaded
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f".safebooru_{p.id}.{p.ext}.part" for p in posts)
    report = booru.download(posts, tmp_path, options=OPTS)
    assert len(report.downloaded) == 3
    for p in posts:
        assert md5(tmp_path / f"safebooru_{p.id}.{p.ext}") == booru_server.post(p.id).md5
        assert booru_server.file_requests(p.id)[-1].headers.get("Range", "").startswith("bytes=")


def test_progress_parallelism_and_report(booru_server, tmp_path):
    posts = listing(booru_server)
    booru_server.slow_seconds = 0.2
    for p in posts:
        booru_server.quirk(p.id, "slow", times=1)
    seen = []
    report = booru.download(posts, tmp_path, jobs=4, options=OPTS, progress=seen.append)
    assert 2 <= booru_server.max_in_flight <= 4
    final = seen[-1]
    assert final.done == final.total == final.downloaded == len(posts)
    assert final.bytes == report.bytes and final.bytes_per_s > 0
    dones = [s.done for s in seen]
    assert dones == sorted(dones)
    assert any(s.eta_s is not None and s.eta_s > 0 for s in seen)
