"""End-to-end: `tui-lora fetch` in a real subprocess against the fake booru."""

import hashlib
import json
import os
import pty
import resource
import select
import signal
import socket
import stat
import subprocess
import sys
import time

import pytest

from conftest import cli_env
from test_booru_download import noise_png


@pytest.fixture
def project(make_project):
    return make_project(images=0, trigger="reimu")


def folder_of(project):
    return project.concepts()[0].path


def images_in(folder):
    return sorted(p for p in folder.iterdir() if p.suffix in (".png", ".jpg"))


def assert_all_verified(folder, srv):
    for image in images_in(folder):
        pid = int(image.stem.split("_")[1])
        assert hashlib.md5(image.read_bytes()).hexdigest() == srv.post(pid).md5, image


def fetch_args(project, srv, source="safebooru", tags="touhou", *more):
    return ("fetch", project.root, f"--tags={tags}", "--source", source, "--base-url", srv.base_url(source), *more)


def first_listed(srv, n):
    """The first ``n`` downloadable posts of a newest-first listing."""
    return [p for p in sorted(srv.posts, key=lambda p: -p.id) if p.ext in ("png", "jpg")][:n]


def test_dry_run_counts_and_previews_without_downloading(run_cli, project, booru_server):
    r = run_cli(*fetch_args(project, booru_server), "--dry-run", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["total_count"] == len(booru_server.posts) and data["dry_run"]
    assert len(data["search"]["preview"]) == 5 and data["search"]["preview"][0]["caption"]
    assert images_in(folder_of(project)) == []
    r = run_cli(*fetch_args(project, booru_server, "safebooru", "hakurei_reimu"), "--dry-run", "--rating", "general")
    assert r.returncode == 0
    assert r.stdout.startswith("Safebooru: ") and "posts match \"hakurei_reimu\" (rating general)" in r.stdout
    assert "#10" in r.stdout


def test_yes_downloads_with_captions_and_a_rerun_skips_everything(run_cli, project, booru_server):
    r = run_cli(*fetch_args(project, booru_server), "--yes", "--limit", "10")
    assert r.returncode == 0, r.stderr
    folder = folder_of(project)
    assert len(images_in(folder)) == 10 and len(list(folder.glob("*.txt"))) == 10
    assert "Downloaded 10 new images" in r.stdout and "passed over" in r.stdout
    assert_all_verified(folder, booru_server)
    before = len(booru_server.file_requests())
    r = run_cli(*fetch_args(project, booru_server), "--yes", "--limit", "10", "--json")
    data = json.loads(r.stdout)
    assert data["download"]["existing"] == 10 and data["download"]["downloaded"] == 0
    assert len(booru_server.file_requests()) == before


def test_without_yes_and_without_a_terminal_nothing_is_downloaded(run_cli, project, booru_server):
    r = run_cli(*fetch_args(project, booru_server))
    assert r.returncode == 2
    assert "add --yes to download" in r.stderr and "Traceback" not in r.stderr
    assert "posts match" in r.stdout  # the count was shown first
    assert images_in(folder_of(project)) == []


def test_the_question_in_a_terminal(project, booru_server):
    """Answer the "Download …?" question through a real pseudo-terminal."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "tui_lora", *map(str, fetch_args(project, booru_server)),
                             "--limit", "3"], stdin=slave, stdout=slave, stderr=slave, env=cli_env())
    os.close(slave)
    out = b""
    deadline = time.monotonic() + 60
    while b"[y/N]" not in out and time.monotonic() < deadline:
        if select.select([master], [], [], 0.5)[0]:
            out += os.read(master, 4096)
    assert b"Download up to 3 images into dataset/10_reimu? [y/N]" in out
    os.write(master, b"y\n")
    while proc.poll() is None and time.monotonic() < deadline:
        if select.select([master], [], [], 0.5)[0]:
            try:
                out += os.read(master, 4096)
            except OSError:
                break
    proc.wait(30)
    os.close(master)
    assert proc.returncode == 0, out.decode(errors="replace")
    assert len(images_in(folder_of(project))) == 3


def test_gelbooru_credentials_flow_never_prints_the_key(run_cli, project, booru_server, _isolated_user_config):
    r = run_cli(*fetch_args(project, booru_server, "gelbooru"), "--dry-run")
    assert r.returncode == 2 and "API Access Credentials" in r.stderr and "--api-key" in r.stderr
    uid, key = booru_server.gelbooru_credentials
    r = run_cli(*fetch_args(project, booru_server, "gelbooru"), "--dry-run", "--user-id", uid, "--api-key", key,
                "--save-credentials")
    assert r.returncode == 0, r.stderr
    assert key not in r.stdout + r.stderr and "readable only by you" in r.stdout
    saved = _isolated_user_config / "credentials.toml"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600 and key in saved.read_text()
    r = run_cli(*fetch_args(project, booru_server, "gelbooru"), "--yes", "--limit", "2", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["download"]["downloaded"] == 2 and key not in r.stdout
    r = run_cli(*fetch_args(project, booru_server, "gelbooru"), "--dry-run", "--user-id", uid, "--api-key", "wrong",
                "--save-credentials")
    assert r.returncode == 2 and "rejected" in r.stderr and "wrong" not in r.stderr
    assert key in saved.read_text()  # rejected credentials are not saved over good ones
    r = run_cli(*fetch_args(project, booru_server, "safebooru"), "--dry-run", "--user-id", uid, "--api-key", key)
    assert r.returncode == 0 and "Safebooru needs no account" in r.stdout
    assert not [q for q in booru_server.api_requests() if "/safebooru/" in q.path and "api_key" in q.query]


def test_gelbooru_credentials_from_the_environment(project, booru_server):
    env = cli_env()
    env["TUI_LORA_GELBOORU_USER_ID"], env["TUI_LORA_GELBOORU_API_KEY"] = booru_server.gelbooru_credentials
    r = subprocess.run([sys.executable, "-m", "tui_lora", *map(str, fetch_args(project, booru_server, "gelbooru")),
                        "--dry-run", "--json"], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["total_count"] == len(booru_server.posts)


@pytest.mark.parametrize("extra, fragment", [
    (("--source", "pixiv"), "Unknown source 'pixiv'"),
    (("--tags=",), "The tag search is empty"),
    (("--source", "danbooru", "--tags", "a b c"), "at most 2 tags"),
    (("--folder", "../../etc"), "is not a folder name"),
    (("--folder", "marisa"), "must look like <repeats>_<name>"),
    (("--rating", "nsfw"), "Unknown rating"),
])
def test_bad_input_is_one_sentence_and_exit_2(run_cli, project, booru_server, extra, fragment):
    r = run_cli("fetch", project.root, "--tags", "touhou", "--base-url", booru_server.base_url("safebooru"),
                "--dry-run", *extra)
    assert r.returncode == 2, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0] and "Traceback" not in r.stderr


def test_network_down(run_cli, project):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = run_cli("fetch", project.root, "--tags", "touhou", "--base-url", f"http://127.0.0.1:{port}", "--yes", "--json")
    assert r.returncode == 2
    assert "Could not reach 127.0.0.1" in json.loads(r.stdout)["error"]


def test_folder_option_creates_a_concept_folder(run_cli, project, booru_server):
    r = run_cli(*fetch_args(project, booru_server), "--yes", "--limit", "2", "--folder", "5_marisa")
    assert r.returncode == 0, r.stderr
    assert len(images_in(project.dataset_dir / "5_marisa")) == 2
    assert images_in(folder_of(project)) == [] or folder_of(project).name == "5_marisa"


def test_ctrl_c_leaves_no_half_image_and_a_rerun_finishes(project, booru_server):
    booru_server.slow_seconds = 30
    for p in first_listed(booru_server, 6):
        p.data = noise_png(300)
        booru_server.quirk(p.id, "stall", times=1)
    args = [*map(str, fetch_args(project, booru_server, "safebooru", "touhou", "--yes", "--limit", "6"))]
    proc = subprocess.Popen([sys.executable, "-m", "tui_lora", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=cli_env())
    folder = folder_of(project)
    deadline = time.monotonic() + 60
    while len(list(folder.glob(".*.part"))) < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, err
    assert "Interrupted" in err and "Traceback" not in err
    assert_all_verified(folder, booru_server)  # whatever image is there is whole
    assert list(folder.glob(".*.part"))
    booru_server.slow_seconds = 0
    r = subprocess.run([sys.executable, "-m", "tui_lora", *args], capture_output=True, text=True, env=cli_env(),
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert len(images_in(folder)) == 6 and not list(folder.glob(".*.part"))
    assert_all_verified(folder, booru_server)


def test_disk_full_is_one_sentence_and_a_rerun_finishes(project, booru_server):
    for p in first_listed(booru_server, 4):
        p.data = noise_png(200)
    args = [sys.executable, "-m", "tui_lora", *map(str, fetch_args(project, booru_server, "safebooru", "touhou",
                                                                    "--yes", "--limit", "4"))]

    def small_files():  # every file this process writes is capped at 20 kB: writes fail like a full disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))

    r = subprocess.run(args, capture_output=True, text=True, env=cli_env(), timeout=120, preexec_fn=small_files)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "free some space and re-run the same command" in r.stderr and "Traceback" not in r.stderr
    folder = folder_of(project)
    assert_all_verified(folder, booru_server)
    assert not list(folder.glob(".*.part"))
    r = subprocess.run(args, capture_output=True, text=True, env=cli_env(), timeout=120)
    assert r.returncode == 0, r.stderr
    assert len(images_in(folder)) == 4
    assert_all_verified(folder, booru_server)


def test_a_failed_image_is_reported_and_exit_1_then_a_rerun_fetches_it(run_cli, project, booru_server):
    broken = first_listed(booru_server, 3)[1]
    booru_server.quirk(broken.id, "404", times=1)
    r = run_cli(*fetch_args(project, booru_server), "--yes", "--limit", "3", "--json")
    assert r.returncode == 1, r.stderr
    data = json.loads(r.stdout)  # one JSON object, with the error inside it
    assert data["download"]["downloaded"] == 2 and data["download"]["failed"] == 1
    assert "re-run the same command" in data["error"] and data["exit_code"] == 1
    failed = [i for i in data["download"]["items"] if i["status"] == "failed"]
    assert failed[0]["id"] == broken.id and "HTTP 404" in failed[0]["reason"]
    r = run_cli(*fetch_args(project, booru_server), "--yes", "--limit", "3")
    assert r.returncode == 0 and "Downloaded 1 new image (" in r.stdout and "2 already there" in r.stdout
