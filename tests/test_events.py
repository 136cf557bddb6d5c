import json

import pytest

from tui_lora.core.events import EventTail, EventWriter, read_events, summarize


def test_writer_and_tail(tmp_path):
    path = tmp_path / "logs" / "events.jsonl"
    w = EventWriter(path)
    tail = EventTail(path)
    assert tail.read_new() == []
    w.emit("start", total_steps=10, epochs=2, steps_per_epoch=5, images=4, device="cpu")
    w.emit("step", step=1, epoch=1, loss=0.5, avg_loss=0.5, lr=1e-4, it_per_s=2.0, eta_s=4.5)
    got = tail.read_new()
    assert [e["event"] for e in got] == ["start", "step"]
    assert all("time" in e for e in got)
    # a half-written line is not returned until it is complete
    with open(path, "a") as fh:
        fh.write('{"event": "step", "step": 2')
    assert tail.read_new() == []
    with open(path, "a") as fh:
        fh.write(', "epoch": 1, "loss": 0.4}\n')
    assert tail.read_new()[0]["step"] == 2


def test_nan_is_written_as_null(tmp_path):
    w = EventWriter(tmp_path / "e.jsonl")
    w.emit("step", step=1, epoch=1, loss=float("nan"), avg_loss=0.1, lr=1e-4, it_per_s=1.0, eta_s=1.0)
    assert json.loads((tmp_path / "e.jsonl").read_text())["loss"] is None


def test_missing_fields_are_refused(tmp_path):
    with pytest.raises(ValueError):
        EventWriter(tmp_path / "e.jsonl").emit("save", epoch=1)


def test_summary(tmp_path):
    path = tmp_path / "e.jsonl"
    w = EventWriter(path)
    w.emit("start", total_steps=4, epochs=2, steps_per_epoch=2, images=2, device="cpu")
    for i in range(1, 3):
        w.emit("step", step=i, epoch=1, loss=1.0 / i, avg_loss=0.7, lr=1e-4, it_per_s=2.0, eta_s=1.0)
    w.emit("save", epoch=1, step=2, path="output/x-000001.safetensors")
    w.emit("done", path="output/x.safetensors", steps=4, seconds=2.0)
    s = summarize(read_events(path))
    assert s.state == "finished" and s.step == 4 and s.losses == [1.0, 0.5]
    assert s.saves[0]["epoch"] == 1 and s.final_path == "output/x.safetensors"


def test_tail_restarts_on_a_replaced_file(tmp_path):
    path = tmp_path / "e.jsonl"
    w = EventWriter(path)
    w.emit("warning", message="a")
    tail = EventTail(path)
    assert len(tail.read_new()) == 1
    path.unlink()
    EventWriter(path).emit("warning", message="b")
    assert [e["message"] for e in tail.read_new()] == ["b"]
