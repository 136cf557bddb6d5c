"""Booru fetch: parallel download vs one at a time, against the local fake booru.

200 images served from tui_lora/demo/booru_server.py on 127.0.0.1 with 50 ms latency added to every
request (a stand-in for a real site's round trip). Every row verifies md5s and writes captions,
except the naive loop, which is what a notebook script does (requests.get, write, no checks).

    python benchmarks/fetch.py [--images 200] [--latency 0.05]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import requests  # noqa: E402 - after sys.path is set

from tui_lora.demo.booru_server import BooruServer, make_catalogue  # noqa: E402 - after sys.path is set
from tui_lora.core import booru  # noqa: E402 - after sys.path is set


def naive(posts, dest: Path) -> None:
    session = requests.Session()
    for p in posts:
        (dest / p.filename).write_bytes(session.get(p.file_url, timeout=30).content)


def ours(jobs: int):
    def run(posts, dest: Path) -> None:
        report = booru.download(posts, dest, jobs=jobs)
        assert len(report.downloaded) == len(posts), report.to_dict()
    return run


def serve(conn, images: int, latency: float) -> None:
    """The fake booru in its own process, so its CPU time does not compete with ours for the GIL."""
    with BooruServer(posts=make_catalogue(images, extras=False, size=(384, 384)), latency=latency) as srv:
        conn.send((srv.base_url("safebooru"), sum(len(p.data) for p in srv.posts)))
        conn.recv()  # until the parent is done


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--latency", type=float, default=0.05)
    args = ap.parse_args()
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe()
    server = ctx.Process(target=serve, args=(child, args.images, args.latency), daemon=True)
    server.start()
    try:
        base_url, size = parent.recv()
        client = booru.open_client("safebooru", base_url=base_url, api_rate=0)
        listed = booru.collect(booru.build_query("safebooru", "touhou"), args.images, client=client).posts
        assert len(listed) == args.images
        rows = [
            ("one at a time: naive requests loop (no checks)", naive),
            ("one at a time: tui-lora, --jobs 1", ours(1)),
            (f"parallel: tui-lora, default --jobs {booru.DEFAULT_JOBS}", ours(booru.DEFAULT_JOBS)),
            ("parallel: tui-lora, --jobs 8", ours(8)),
        ]
        results = []
        for name, fn in rows:
            with tempfile.TemporaryDirectory() as tmp:
                t0 = time.perf_counter()
                fn(listed, Path(tmp))
                results.append((name, time.perf_counter() - t0))
    finally:
        parent.send("stop")
        server.join(10)
    naive_s, base = results[0][1], results[1][1]
    print(f"Booru fetch: {args.images} images ({size / 2**20:.1f} MB), {args.latency * 1000:.0f} ms added per request; "
          f"{os.cpu_count()} CPUs ({platform.machine()}), Python {platform.python_version()}")
    print(f"{'method':50} {'seconds':>8} {'images/s':>9} {'vs --jobs 1':>12} {'vs naive':>9}")
    for name, secs in results:
        print(f"{name:50} {secs:8.2f} {args.images / secs:9.1f} {base / secs:11.1f}× {naive_s / secs:8.1f}×")


if __name__ == "__main__":
    main()
