"""state/train.lock: one training per project, stale locks of dead or reused pids cleared (no torch)."""

import json
import os
import subprocess
import sys

import pytest

from tui_lora.commands._fixes import say
from tui_lora.core import joblock
from tui_lora.core.errors import JobRunning, UserError


class Proj:
    """The two paths the lock needs; a real Project works the same."""

    def __init__(self, root):
        self.root = root
        self.state_dir = root / "state"


@pytest.fixture
def proj(tmp_path):
    return Proj(tmp_path)


@pytest.fixture
def sleeper():
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield p
    p.kill()
    p.wait()


@pytest.fixture
def trainer():
    """A live process with a lock token in its environment, as a detached trainer has (the proof)."""
    token = joblock.new_token()
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                         env={**os.environ, joblock.TOKEN_ENV: token})
    p.token = token
    yield p
    p.kill()
    p.wait()


def dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_start_ticks_identify_a_process(sleeper):
    ticks = joblock.process_start_ticks(sleeper.pid)
    assert ticks is not None and ticks == joblock.process_start_ticks(sleeper.pid)
    assert joblock.process_alive(sleeper.pid, ticks)
    assert not joblock.process_alive(sleeper.pid, ticks + 1)  # same pid, another process (a reused pid)
    assert not joblock.process_alive(dead_pid())
    assert joblock.process_alive(os.getpid(), joblock.process_start_ticks(os.getpid()))


def test_a_zombie_counts_as_gone():
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    for _ in range(200):  # exited but not reaped yet
        with open(f"/proc/{p.pid}/stat") as fh:
            if fh.read().rsplit(")", 1)[1].split()[0] == "Z":
                break
        import time

        time.sleep(0.02)
    assert not joblock.process_alive(p.pid)
    p.wait()


def test_second_acquire_is_refused_in_one_sentence(proj):
    info = joblock.acquire(proj, detached=True, command=["tui-lora", "train"])
    assert joblock.live_lock(proj).pid == os.getpid()
    data = json.loads(joblock.lock_path(proj).read_text())
    assert data["pid"] == os.getpid() and data["start_ticks"] == joblock.process_start_ticks(os.getpid())
    with pytest.raises(JobRunning) as exc:
        joblock.acquire(proj)
    assert exc.value.pid == os.getpid()
    msg = say(exc.value)  # as the CLI prints it
    assert "already running in the background" in msg and f"pid {os.getpid()}" in msg and "tui-lora stop" in msg
    assert "\n" not in msg
    joblock.release(proj, "not-the-token")  # someone else's release leaves it
    assert joblock.live_lock(proj) is not None
    joblock.release(proj, info.token)
    assert not joblock.lock_path(proj).exists() and joblock.live_lock(proj) is None


def test_stale_locks_are_cleared(proj, sleeper):
    path = joblock.lock_path(proj)
    path.parent.mkdir(parents=True)
    # a killed trainer
    path.write_text(joblock.LockInfo(dead_pid(), 123, "old", 1.0).to_json())
    assert joblock.read_lock(proj).pid and joblock.live_lock(proj) is None
    info = joblock.acquire(proj)
    assert info.pid == os.getpid() and joblock.read_lock(proj).token == info.token
    joblock.release(proj, info.token)
    # a pid that the kernel gave to another program since (same pid, other start time)
    ticks = joblock.process_start_ticks(sleeper.pid)
    path.write_text(joblock.LockInfo(sleeper.pid, ticks - 1, "old", 1.0).to_json())
    assert joblock.clear_stale(proj) and not path.exists()
    # a half-written lock (a crash while creating it)
    path.write_text("")
    assert joblock.acquire(proj).pid == os.getpid()


def test_a_live_lock_of_another_process_is_kept(proj, trainer):
    path = joblock.lock_path(proj)
    path.parent.mkdir(parents=True)
    path.write_text(joblock.LockInfo(trainer.pid, joblock.process_start_ticks(trainer.pid), trainer.token,
                                     1.0).to_json())
    assert not joblock.clear_stale(proj)
    with pytest.raises(UserError, match=f"pid {trainer.pid}"):
        joblock.acquire(proj)
    trainer.kill()
    trainer.wait()
    assert joblock.acquire(proj).pid == os.getpid()


def test_hand_over_and_adopt(proj, trainer):
    info = joblock.acquire(proj, detached=True, token=trainer.token)
    moved = joblock.hand_over(proj, info, trainer.pid)
    assert joblock.live_lock(proj).pid == trainer.pid and moved.token == info.token
    with pytest.raises(UserError, match="was not created for this job"):
        joblock.adopt(proj, "wrong")
    mine = joblock.adopt(proj, info.token)
    assert mine.pid == os.getpid() and joblock.read_lock(proj).detached


def test_descendants(sleeper):
    parent = subprocess.Popen([sys.executable, "-c",
                               "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', "
                               "'import time; time.sleep(30)']); print('ok', flush=True); time.sleep(30)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout.readline().strip() == "ok"
        below = joblock.descendants(parent.pid)
        assert len(below) == 1 and joblock.process_alive(below[0])
        assert sleeper.pid in joblock.descendants(os.getpid())
    finally:
        for pid in joblock.descendants(parent.pid):
            os.kill(pid, 9)
        parent.kill()
        parent.wait()
