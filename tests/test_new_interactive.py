"""`tui-lora new DIR` in a real pseudo-terminal: questionary asks for what is missing."""

import os
import pty
import select
import subprocess
import sys
import time

from conftest import cli_env

DOWN, ENTER = "\x1b[B", "\r"


class Terminal:
    def __init__(self, *args: str) -> None:
        self.master, slave = pty.openpty()
        env = cli_env() | {"TERM": "xterm", "COLUMNS": "120", "LINES": "30"}
        self.proc = subprocess.Popen([sys.executable, "-m", "tui_lora", *args], stdin=slave, stdout=slave,
                                     stderr=slave, env=env, close_fds=True)
        os.close(slave)
        self.screen = ""

    def wait_for(self, text: str, timeout: float = 30) -> None:
        end = time.time() + timeout
        while text not in self.screen:
            if time.time() > end:
                raise AssertionError(f"{text!r} never appeared in:\n{self.screen}")
            ready, _, _ = select.select([self.master], [], [], 0.2)
            if ready:
                try:
                    self.screen += os.read(self.master, 65536).decode("utf-8", "replace")
                except OSError:
                    break

    def send(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def finish(self, timeout: float = 30) -> int:
        end = time.time() + timeout
        while self.proc.poll() is None and time.time() < end:
            self.wait_for_nothing()
        code = self.proc.wait(timeout=5)
        os.close(self.master)
        return code

    def wait_for_nothing(self) -> None:
        ready, _, _ = select.select([self.master], [], [], 0.2)
        if ready:
            try:
                self.screen += os.read(self.master, 65536).decode("utf-8", "replace")
            except OSError:
                pass


def test_new_asks_for_preset_base_model_and_trigger(tmp_path):
    target = tmp_path / "mia"
    term = Terminal("new", str(target))
    term.wait_for("Preset:")
    term.send(DOWN + ENTER)  # the second preset: sd15-realistic-character
    term.wait_for("Base model")
    term.send("\x15./missing.safetensors" + ENTER)  # Ctrl-U clears the default; a bad path is re-asked
    term.wait_for("does not exist")
    term.send("\x15stable-diffusion-v1-5/stable-diffusion-v1-5" + ENTER)
    term.wait_for("Trigger word")
    term.send("miaxyz" + ENTER)
    assert term.finish() == 0, term.screen
    assert (target / "dataset" / "15_miaxyz").is_dir()
    assert 'preset = "sd15-realistic-character"' in (target / "project.toml").read_text()
