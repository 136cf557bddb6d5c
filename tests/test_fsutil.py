import pytest

from tui_lora.core.fsutil import atomic_open, atomic_write_bytes


def test_atomic_write_replaces(tmp_path):
    p = tmp_path / "f.bin"
    atomic_write_bytes(p, b"one")
    atomic_write_bytes(p, b"two")
    assert p.read_bytes() == b"two"
    assert [x.name for x in tmp_path.iterdir()] == ["f.bin"]


def test_a_failed_write_keeps_the_old_file(tmp_path):
    p = tmp_path / "f.bin"
    atomic_write_bytes(p, b"good")
    with pytest.raises(OSError):
        with atomic_open(p, "wb") as fh:
            fh.write(b"half")
            raise OSError(28, "No space left on device")
    assert p.read_bytes() == b"good"
    assert [x.name for x in tmp_path.iterdir()] == ["f.bin"]
