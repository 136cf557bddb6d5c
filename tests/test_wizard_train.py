"""Pilot tests of the Train screen: it follows logs/events.jsonl and logs/train.log as a trainer
writes them, and redraws only when something changed."""

from tui_lora.core.events import EventWriter
from tui_lora.core.project import Project
from tui_lora.tui import jobs
from tui_lora.tui.app import WizardApp
from tui_lora.tui.screens.train import RunUpdated, TrainScreen
from tui_lora.tui.widgets.loss_chart import LossCurve, curve_rows
from wizard_support import flat, home, no_gpu, run, screen_text, wait_for, wizard_project  # noqa: F401


async def open_train(pilot) -> TrainScreen:
    await pilot.press("6")
    screen = pilot.app.screen
    assert isinstance(screen, TrainScreen)
    screen.POLL_S = 0.05
    return screen


async def test_the_monitor_follows_a_run_as_it_is_written(wizard_project, no_gpu):
    project = wizard_project("proj")
    app = WizardApp(Project.load(project.root), frozen=True)
    async with run(app) as pilot:
        screen = await open_train(pilot)
        await wait_for(pilot, lambda: "No training run yet" in flat(app), what="the empty state")
        assert "arrives with the jobs update" in flat(app)  # no fake start button
        w = EventWriter(project.events_path)
        w.emit("start", total_steps=20, epochs=2, steps_per_epoch=10, images=8, device="cuda")
        for step in range(1, 11):
            w.emit("step", step=step, epoch=1, loss=0.3 - 0.01 * step, avg_loss=0.25, lr=5e-4,
                   it_per_s=2.5, eta_s=4.0)
        await wait_for(pilot, lambda: "step 10/20" in flat(app), what="the first steps")
        text = flat(app)
        assert "● training on cuda · epoch 1/2 · step 10/20" in text
        assert "loss 0.2 avg 0.25 lr 5.00e-04 it/s 2.5 ETA 4 s" in text
        assert "50%" in text
        curve = screen.query_one(LossCurve).values
        assert len(curve) == 10 and curve[0] > curve[-1]  # smoothed, going down
        w.emit("save", epoch=1, step=10, path=str(project.epoch_file(1)))
        w.emit("sample", epoch=1, path=str(project.samples_dir / "e01-0.png"))
        w.emit("warning", message="loss spiked at step 11")
        project.train_log_path.write_text("epoch 1 done\nsaving proj-000001.safetensors\n")
        await wait_for(pilot, lambda: "proj-000001.safetensors" in flat(app) and "output/samples/e01-0.png" in flat(app),
                       what="the save and the sample")
        await wait_for(pilot, lambda: "loss spiked at step 11" in flat(app), what="the warning notification")
        assert "saving proj-000001.safetensors" in flat(app)  # the log tail
        w.emit("step", step=20, epoch=2, loss=0.05, avg_loss=0.1, lr=1e-5, it_per_s=2.5, eta_s=0.0)
        w.emit("done", path=str(project.final_file()), steps=20, seconds=8.0)
        await wait_for(pilot, lambda: "✓ finished: 20 steps" in flat(app), what="the end of the run")
        await wait_for(pilot, lambda: "Training finished" in flat(app), what="the finished notification")


async def test_a_failed_and_a_stale_run_say_what_to_do(wizard_project, no_gpu, monkeypatch):
    project = wizard_project("proj")
    w = EventWriter(project.events_path)
    w.emit("start", total_steps=20, epochs=2, steps_per_epoch=10, images=8, device="cuda")
    w.emit("step", step=3, epoch=1, loss=0.3, avg_loss=0.3, lr=5e-4, it_per_s=2.5, eta_s=4.0)
    monkeypatch.setattr(jobs, "STALE_AFTER_S", -1)  # as if the trainer had been silent for long
    app = WizardApp(Project.load(project.root), frozen=True)
    async with run(app) as pilot:
        await open_train(pilot)
        await wait_for(pilot, lambda: "Stopped at step 3/20 without finishing" in flat(app), what="stale")
        assert "--resume" in flat(app)
        w.emit("error", message="CUDA out of memory; lower train_batch_size.")
        await wait_for(pilot, lambda: "✗ failed: CUDA out of memory" in flat(app), what="the failure")
        await wait_for(pilot, lambda: "Training failed" in flat(app), what="the failure notification")
        assert "Traceback" not in screen_text(app)


def test_a_burst_of_updates_collapses_into_one_message():
    from tui_lora.tui.monitor import Snapshot
    from tui_lora.core.events import RunSummary

    a = RunUpdated(Snapshot(RunSummary(), (), (), False, None, 1))
    b = RunUpdated(Snapshot(RunSummary(), (), (), False, None, 2))
    assert b.can_replace(a)
    from textual.message import Message

    assert not b.can_replace(Message())


def test_the_curve_is_drawn_with_block_characters():
    rows = curve_rows([1.0, 0.5, 0.0, 0.0], 4, 2)
    assert rows == ["█▁  ", "██▁▁"]  # top row first; the half value fills one and a bit rows
    assert curve_rows([0.3] * 10, 5, 2) == ["     ", "█████"]
    assert curve_rows([], 5, 2) == ["", ""]
