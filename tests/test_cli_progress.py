"""The long commands' one progress display: a bar on a terminal, sparse lines in a log, nothing with --json."""

import os
import pty
import select
import subprocess
import sys
import time

from conftest import cli_env

from tui_lora.commands._progress import CliProgress


def test_a_log_gets_a_line_now_and_then_and_always_the_last(capsys):
    progress = CliProgress(log_every=3600)  # stderr is captured here: not a terminal
    for done in range(1, 6):
        progress.update("Downloading", done, 5, "1 KB")
    progress.update("Downloading", 5, 5, "1 KB")  # the same last line again is not repeated
    progress.close()
    assert capsys.readouterr().err.splitlines() == ["Downloading: 1/5 · 1 KB", "Downloading: 5/5 · 1 KB"]


def test_without_a_terminal_or_with_json_it_says_nothing(capsys):
    for progress in (CliProgress(), CliProgress(enabled=False, log_every=1)):
        progress.update("Checking images", 1, 2)
        progress.close()
    assert capsys.readouterr().err == ""


def test_a_terminal_gets_a_bar_that_goes_away(make_project):
    project = make_project(images=3)
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "tui_lora", "check", str(project.root)], stdin=slave, stdout=slave,
                            stderr=slave, env=cli_env() | {"TERM": "xterm-256color"})
    os.close(slave)
    out, deadline = b"", time.monotonic() + 60
    while proc.poll() is None or select.select([master], [], [], 0.2)[0]:
        if time.monotonic() > deadline:
            proc.kill()
            break
        if select.select([master], [], [], 0.2)[0]:
            try:
                out += os.read(master, 65536)
            except OSError:
                break
    proc.wait(30)
    os.close(master)
    text = out.decode(errors="replace")
    assert proc.returncode == 0, text
    assert "Checking images" in text and "3/3" in text  # the bar, drawn on stderr
    bar_end, report = text.rindex("3/3"), text.index("Checked 3 images")
    assert bar_end < report and "\x1b[2K" in text[bar_end:report]  # the bar's line is erased before the report
