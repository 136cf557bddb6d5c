"""A stale or crafted state/train.lock (issue 14 item 2): a lock that cannot prove its process is our
trainer is stale, so `status`, `stop` and `stop --force` never signal a process on a guess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from tui_lora.core import joblock, jobs


@pytest.fixture
def sleep_proc():
    """An unrelated live process (`sleep`), which a crafted lock names."""
    p = subprocess.Popen(["sleep", "60"])
    yield p
    p.kill()
    p.wait()


def exec_done(proc: subprocess.Popen) -> subprocess.Popen:
    """``proc`` once its new program's environment is in /proc: Popen returns when the child's exec
    closes its descriptors, a moment before the kernel sets up the new environment, and until then
    /proc/<pid>/environ reads empty (so no token could be proven; seen on a loaded machine)."""
    deadline = time.monotonic() + 10
    while not open(f"/proc/{proc.pid}/environ", "rb").read() and time.monotonic() < deadline:
        time.sleep(0.01)
    return proc


def write_lock(project, **fields) -> None:
    path = joblock.lock_path(project)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"token": "0123456789abcdef", "started": 1.0, "detached": True, **fields}))


@pytest.mark.parametrize("how", ["ticks copied from /proc", "no start_ticks", "token guessed", "pid 1"])
def test_a_crafted_lock_never_gets_a_process_signalled(make_project, run_cli, sleep_proc, how):
    project = make_project(images=1)
    pid = 1 if how == "pid 1" else sleep_proc.pid
    ticks = None if how == "no start_ticks" else joblock.process_start_ticks(pid)
    write_lock(project, pid=pid, start_ticks=ticks, token="0123456789abcdef" if how != "token guessed" else "")
    assert joblock.live_lock(project) is None and not jobs.is_running(project)

    res = run_cli("status", project.root, "--json")
    # the exit code says the state (README's table): 4 never run here, never 5 running
    assert res.returncode == 4 and json.loads(res.stdout)["state"] == "none"
    for extra in ([], ["--force", "--timeout", "0.2"]):
        res = run_cli("stop", project.root, *extra)
        assert res.returncode == 0 and "No training is running" in res.stdout, res.stderr
        time.sleep(0.1)
        assert sleep_proc.poll() is None  # still alive: never signalled
    assert joblock.clear_stale(project) and not joblock.lock_path(project).exists()


def test_a_lock_that_is_a_link_is_stale(make_project, sleep_proc, tmp_path):
    project = make_project(images=1)
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text(json.dumps({"pid": os.getpid(), "start_ticks": joblock.process_start_ticks(os.getpid()),
                                     "token": "0123456789abcdef", "started": 1.0}))
    joblock.lock_path(project).symlink_to(elsewhere)
    assert joblock.read_lock(project) is None and joblock.live_lock(project) is None
    info = joblock.acquire(project)  # the link is removed, not written through
    assert elsewhere.read_text().startswith("{") and json.loads(elsewhere.read_text())["token"] != info.token
    joblock.release(project, info.token)


def test_a_lock_proven_by_its_token_is_live_and_stop_signals_it(make_project):
    project = make_project(images=1)
    token = joblock.new_token()
    proc = exec_done(subprocess.Popen(["sleep", "60"], env={**os.environ, joblock.TOKEN_ENV: token}))
    try:
        write_lock(project, pid=proc.pid, start_ticks=joblock.process_start_ticks(proc.pid), token=token)
        assert joblock.live_lock(project).pid == proc.pid
        res = jobs.stop_job(project, timeout=5)
        assert res.was_running and res.stopped and proc.wait(timeout=5) == -15
    finally:
        proc.kill()
        proc.wait()


def test_a_second_start_waits_for_the_hand_over_and_names_the_trainer(make_project):
    """While a detached start is under way (lock still naming the starter), a second start waits
    for the hand-over and then names the trainer's pid, not the starter's."""
    project = make_project(images=1)
    token = joblock.new_token()
    trainer = subprocess.Popen(["sleep", "60"], env={**os.environ, joblock.TOKEN_ENV: token})
    code = ("import sys\nfrom tui_lora.core import joblock\nfrom tui_lora.core.project import Project\n"
            "from tui_lora.core.errors import UserError\n"
            "try:\n    joblock.acquire(Project.load(sys.argv[1]))\nexcept UserError as e:\n    print(e.message)\n")
    try:
        with joblock.guard(project):
            lock = joblock.acquire(project, detached=True, token=token)  # the starter (this process)
            second = subprocess.Popen([sys.executable, "-c", code, str(project.root)], stdout=subprocess.PIPE,
                                      text=True, env={**os.environ, "PYTHONPATH": os.getcwd()})
            time.sleep(1.0)
            assert second.poll() is None  # waiting on the guard
            joblock.hand_over(project, lock, trainer.pid)
        out = second.communicate(timeout=30)[0]
        assert f"already running in the background (pid {trainer.pid})" in out and f"pid {os.getpid()}" not in out
    finally:
        trainer.kill()
        trainer.wait()
