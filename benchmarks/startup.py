"""Time from launching the wizard to its first painted screen, against baselines.

Each program runs in a real pseudo-terminal (80×24, xterm-256color); the clock stops when the
terminal receives the first screen's text. The wizard asks the terminal about graphics before it
starts (tui/common/images.py); the pty answers those queries as xterm does (device attributes without sixel,
the cell size in pixels, silence to kitty's graphics query), and a second row measures a terminal
that answers nothing, the worst case (each query then waits out its 0.1 s timeout). Baselines: `python -c pass` (the interpreter alone)
and a bare Textual app that paints one word (what any Textual program pays). Goal: < 1 s.

    python benchmarks/startup.py [--runs 7]
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import select
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BARE_APP = (
    "from textual.app import App\n"
    "from textual.widgets import Static\n"
    "class Bare(App):\n"
    "    def compose(self):\n"
    "        yield Static('BARE-READY')\n"
    "Bare().run()\n"
)


# What xterm answers (VT420 attributes, no 4 = no sixel; 8×17-pixel cells); kitty's query gets nothing.
XTERM_ANSWERS = {b"\x1b[c": b"\x1b[?64;1;2;6;9;15;16;17;18;21;22;28c", b"\x1b[16t": b"\x1b[6;17;8t"}


def _answer(master: int, seen: bytes, done: int) -> int:
    """Reply to the queries that arrived since offset ``done``; returns the new offset."""
    for query, reply in XTERM_ANSWERS.items():
        at = seen.find(query, done)
        while at != -1:
            os.write(master, reply)
            at = seen.find(query, at + len(query))
    return max(done, len(seen) - 8)  # keep a query split across two reads findable


def time_to_text(argv: list[str], marker: bytes | None, env: dict[str, str], timeout: float = 30.0,
                 answers: bool = True) -> float:
    """Seconds from spawn until ``marker`` shows on the terminal (or the process exits, for None)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=REPO, start_new_session=True)
    os.close(slave)
    seen = b""
    answered = 0
    try:
        while True:
            if time.perf_counter() - start > timeout:
                raise TimeoutError(f"{argv} did not paint {marker!r} in {timeout} s:\n{seen[-2000:]!r}")
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    chunk = b""
                seen += chunk
                if answers:
                    answered = _answer(master, seen, answered)
                if marker is not None and marker in seen:
                    return time.perf_counter() - start
                if not chunk and marker is None:
                    return time.perf_counter() - start
            if marker is None and proc.poll() is not None:
                return time.perf_counter() - start
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
        proc.wait()
        os.close(master)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="tui-lora-startup-"))
    env = dict(os.environ, TERM="xterm-256color", COLUMNS="80", LINES="24", TUI_LORA_CONFIG_DIR=str(tmp / "cfg"),
               PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    # One realistic project in the recent list, so the start screen reads a project as users see it.
    subprocess.run([sys.executable, "-m", "tui_lora", "new", str(tmp / "demo"), "--preset", "sd15-anime-character",
                    "--base-model", "stable-diffusion-v1-5/stable-diffusion-v1-5", "--trigger", "ohwx"],
                   env=env, check=True, capture_output=True)
    py = sys.executable
    cases = [
        ("python -c pass", [py, "-c", "pass"], None),
        ("bare Textual app", [py, "-c", BARE_APP], b"BARE-READY"),
        ("tui-lora (start screen)", [py, "-m", "tui_lora"], b"Recent projects"),
        ("tui-lora open DIR", [py, "-m", "tui_lora", "open", str(tmp / "demo")], b"Trigger word"),
        ("tui-lora, silent terminal", [py, "-m", "tui_lora"], b"Recent projects"),
    ]
    for name, argv, marker in cases:
        time_to_text(argv, marker, env, answers="silent" not in name)  # warm the OS file cache once
    # Round-robin, so a burst of load from elsewhere on the machine hits every program alike.
    times: dict[str, list[float]] = {name: [] for name, _, _ in cases}
    for _ in range(args.runs):
        for name, argv, marker in cases:
            times[name].append(time_to_text(argv, marker, env, answers="silent" not in name))
    results = {name: statistics.median(t) for name, t in times.items()}
    shutil.rmtree(tmp, ignore_errors=True)

    base = results["bare Textual app"]
    print(f"Time to first painted screen, median of {args.runs} runs, 80×24 pty ({os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.1f})\n")
    print(f"| {'program':<26} | {'seconds':>7} | {'vs bare Textual':>15} |")
    print(f"|{'-' * 28}|{'-' * 9}|{'-' * 17}|")
    for name, sec in results.items():
        print(f"| {name:<26} | {sec:>7.3f} | {sec / base:>14.2f}× |")
    worst = max(results["tui-lora (start screen)"], results["tui-lora open DIR"])
    print(f"\ngoal < 1 s: {'met' if worst < 1.0 else 'NOT met'} ({worst:.3f} s)")


if __name__ == "__main__":
    main()
