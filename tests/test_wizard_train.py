"""Pilot tests of the Train screen: it starts, stops and resumes real detached trainings on a tiny
model (core.jobs, the same calls as `tui-lora train --detach`, `stop` and `--resume`), follows
logs/events.jsonl and logs/train.log as a trainer writes them, redraws only when something
changed, and shows only the keys that make sense for the run's state."""

import time

from wizard_support import (  # noqa: F401 - fixtures
    flat, home, job_lock, no_gpu, run, screen_text, train_project, wait_for, wizard_project,
)

from tui_lora.core import joblock, jobs
from tui_lora.core.errors import UserError
from tui_lora.core.events import EventWriter, read_events
from tui_lora.core.project import Project
from tui_lora.tui.app import WizardApp
from tui_lora.tui.common import images
from tui_lora.tui.common.confirm import ConfirmScreen
from tui_lora.tui.common.image_preview import ImagePreview
from tui_lora.tui.navigation import STEP_INDEX, available
from tui_lora.tui.train.loss_chart import LossCurve, curve_rows
from tui_lora.tui.train.monitor import Earlier
from tui_lora.tui.train.screen import RunUpdated, TrainScreen
from tui_lora.tui.train.train_text import start_question

JOB_S = 120  # a detached run on the tiny model: ~5 s to import and load, then a fraction of a second a step


async def open_train(pilot) -> TrainScreen:
    await pilot.press("6")
    screen = pilot.app.screen
    assert isinstance(screen, TrainScreen)
    screen.POLL_S = 0.05
    return screen


async def watch_offered_run(pilot) -> TrainScreen:
    """Opening a project whose training runs offers to watch it: yes."""
    app = pilot.app
    await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the offer to watch the run")
    assert "A training run is going on for proj (" in app.screen.question
    await pilot.press("y")
    assert isinstance(app.screen, TrainScreen)
    app.screen.POLL_S = 0.05
    return app.screen


async def clear_toasts(pilot) -> None:
    """Notifications cover the lower right of the screen; clear them to read what is under them."""
    pilot.app.clear_notifications()
    await pilot.pause(0.1)


def saves(screen) -> list[str]:
    """The saved-files list, one entry per line, as shown."""
    return [" ".join(line.split()) for line in str(screen.query_one("#train-saves").content).splitlines()]


def footer(app) -> str:
    return screen_text(app).rstrip("\n").rsplit("\n", 1)[-1]


async def keys(pilot, *shown: str, hidden: tuple[str, ...] = ()) -> None:
    """Wait until the footer shows exactly these of the screen's keys (it redraws after a state change)."""
    def ok() -> bool:
        text = footer(pilot.app)
        return all(k in text for k in shown) and not any(k in text for k in hidden)

    await wait_for(pilot, ok, what=f"the keys {shown}, without {hidden}")


# ----- real jobs -------------------------------------------------------------------------------------
SAMPLED = {"training.max_train_epochs": 2, "output.save_every_n_epochs": 1, "sample.sample_every_n_epochs": 1,
           "sample.prompts": ["ohwx --w 64 --h 64 --s 2"]}


async def test_start_a_run_then_start_over_after_a_confirmation(train_project, monkeypatch):
    project = train_project(SAMPLED)
    monkeypatch.setattr(images, "_mode", "halfcell")  # draw the sample as a terminal without graphics would
    app = WizardApp(Project.load(project.root), frozen=True)
    async with run(app) as pilot:
        screen = await open_train(pilot)
        await wait_for(pilot, lambda: "No training run yet" in flat(app), what="the empty state")
        await keys(pilot, "s Start ", hidden=("Start over", "Resume", "Stop"))
        await pilot.press("s")
        await wait_for(pilot, lambda: "✓ finished: 2 steps" in flat(app), timeout=JOB_S, what="the run's end")
        await wait_for(pilot, lambda: "Training finished" in flat(app), what="the notification")
        await clear_toasts(pilot)
        text = flat(app)
        assert saves(screen) == ["epoch 1 proj-000001", "epoch 2 proj"]  # the saved epochs, without .safetensors
        assert len(screen.query_one(LossCurve).values) == 2 and "loss (smoothed)" in text
        # the latest sample, drawn from the file the trainer wrote
        sample = project.samples_dir / "proj_e000002_00.png"
        assert screen.sample["path"] == str(sample) and "sample · epoch 2" in text and sample.name in text
        picture = screen.query_one("#pv-picture")
        await wait_for(pilot, lambda: picture.display and picture.image is not None, what="the sample picture")
        await keys(pilot, "s Start over", hidden=("Stop", "Resume"))
        assert ("c Compare" in footer(app)) == available(STEP_INDEX["compare"])  # when the wizard has it

        # s again: a question says what a new run replaces; No changes nothing
        events = project.events_path.read_bytes()
        outputs = sorted((p.name, p.stat().st_mtime_ns) for p in project.output_dir.glob("*.safetensors"))
        await pilot.press("s")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        question = " ".join(app.screen.question.split())
        assert question.startswith("Start a new training run of proj? It replaces the earlier one:")
        assert "its logs (events.jsonl, train.log) move to logs/previous/" in question
        assert "2 LoRA files in output/ (proj-*.safetensors, proj.safetensors) are overwritten" in question
        assert "resume point" not in question  # a finished run has none
        assert "Start over [y]" in screen_text(app) and "Cancel [n]" in screen_text(app)
        await pilot.press("n")
        await pilot.pause(0.3)
        assert app.screen is screen and not jobs.is_running(project)
        assert project.events_path.read_bytes() == events and not (project.logs_dir / "previous").exists()
        assert sorted((p.name, p.stat().st_mtime_ns) for p in project.output_dir.glob("*.safetensors")) == outputs

        # Yes: the earlier logs are archived and a new run starts, and finishes
        first_start = read_events(project.events_path)[0]["time"]
        await pilot.press("s", "y")
        await wait_for(pilot, lambda: [e for e in read_events(project.events_path) if e["event"] == "done"
                                       and e["time"] > first_start], timeout=JOB_S, what="the second run")
        await wait_for(pilot, lambda: "✓ finished: 2 steps" in flat(app), what="the second run's end")
    archived = list((project.logs_dir / "previous").glob("*-events.jsonl"))
    assert len(archived) == 1 and archived[0].read_bytes() == events


async def test_stop_quit_reopen_and_resume(train_project):
    project = train_project({"training.train_batch_size": 1, "training.max_train_epochs": 12,
                             "output.save_every_n_epochs": 4}, images=5)  # 60 steps
    app = WizardApp(Project.load(project.root), frozen=True)
    async with run(app) as pilot:
        await open_train(pilot)
        await wait_for(pilot, lambda: "No training run yet" in flat(app), what="the empty state")
        await pilot.press("s")
        await wait_for(pilot, lambda: "● training on cpu · epoch 1/12" in flat(app), timeout=JOB_S, what="steps")
        await keys(pilot, "x Stop", hidden=("Start", "Resume"))
    # quitting the wizard leaves the job running; reopening finds it and offers to watch it
    assert jobs.is_running(project)
    app = WizardApp(Project.load(project.root), frozen=True)
    async with run(app) as pilot:
        screen = await watch_offered_run(pilot)
        await wait_for(pilot, lambda: screen.snapshot is not None and screen.snapshot.running, what="the run")
        assert len(screen.query_one(LossCurve).values) == screen.snapshot.summary.step  # re-read from the start
        await pilot.press("x")
        await wait_for(pilot, lambda: "■ stopped at step" in flat(app), timeout=JOB_S, what="the stop")
        status = jobs.job_status(project)
        assert status.state == "stopped" and status.resumable and 0 < status.resume_step < 60
        n = status.resume_step
        # the epoch as the status line numbered it at that step (the record counts epochs done)
        epoch = next(e["epoch"] for e in read_events(project.events_path) if e["event"] == "step" and e["step"] == n)
        assert f"r resumes from step {n} (epoch {epoch}); s starts over." in flat(app)
        await wait_for(pilot, lambda: "Training stopped" in flat(app), what="the notification")
        await clear_toasts(pilot)
        await keys(pilot, "s Start over", "r Resume", hidden=("Stop",))
        # starting over would discard the resume point: the question says so; No keeps it
        await pilot.press("s")
        assert f"its resume point (step {n}, epoch {epoch}) in state/ is discarded" in " ".join(
            app.screen.question.split())
        await pilot.press("escape")
        assert jobs.job_status(project).resume_step == n
        await pilot.press("r")
        await wait_for(pilot, lambda: "✓ finished: 60 steps" in flat(app), timeout=JOB_S, what="the resumed run")
        # in step order, with the LoRA saved by the stop named so (unless the stop fell on a saving
        # epoch's end, where the epoch's file is the stop's)
        listed = [(20, "epoch 4 proj-000004"), (40, "epoch 8 proj-000008"), (60, "epoch 12 proj")]
        if n not in (20, 40):
            listed.append((n, f"stopped at step {n}"))
        assert saves(screen) == [text for _, text in sorted(listed)]
    steps = [e["step"] for e in read_events(project.events_path) if e["event"] == "step"]
    assert steps[-1] == 60 and steps.count(n + 1) == 1  # the resumed run went on from the stop


async def test_an_empty_dataset_is_refused_with_a_sentence(wizard_project, no_gpu):
    project = wizard_project("proj", images=0)
    app = WizardApp(Project.load(project.root), frozen=True)
    async with run(app) as pilot:
        await open_train(pilot)
        await keys(pilot, "s Start")
        await pilot.press("s")
        await wait_for(pilot, lambda: "The dataset has no images; fetch some with" in flat(app), what="the refusal")
        assert "copy 15-50 images into dataset/<N>_<name>/." in flat(app) and "Traceback" not in flat(app)
        await keys(pilot, "s Start")
    assert not jobs.is_running(project) and not joblock.lock_path(project).exists()
    assert not project.events_path.exists()


async def test_a_stop_that_takes_long_offers_force_stop(wizard_project, no_gpu):
    project = wizard_project("proj")
    EventWriter(project.events_path).emit("start", total_steps=20, epochs=2, steps_per_epoch=10, images=8,
                                          device="cuda")
    app = WizardApp(Project.load(project.root), frozen=True)
    with job_lock(project, ignore_term=True) as proc:  # a trainer stuck in a save: SIGTERM changes nothing
        async with run(app) as pilot:
            screen = await watch_offered_run(pilot)
            screen.FORCE_AFTER_S = 0.5
            await keys(pilot, "x Stop")
            t0 = time.monotonic()
            await pilot.press("x")
            assert time.monotonic() - t0 < 0.5  # the UI does not wait for the stop
            assert "◌ stopping… finishing the step" in flat(app)
            await keys(pilot, hidden=("x Stop", "Start"))
            await wait_for(pilot, lambda: "◌ still stopping after" in flat(app), what="the slow stop")
            await keys(pilot, "f Force stop")
            assert proc.poll() is None
            await pilot.press("f")
            await wait_for(pilot, lambda: proc.poll() is not None, what="the kill")
            await wait_for(pilot, lambda: "✗ failed" in flat(app), what="the end of the run")
            await keys(pilot, "s Start over", hidden=("Force stop",))
    assert not joblock.lock_path(project).exists()


# ----- following a run written by someone else ---------------------------------------------------
async def test_the_monitor_follows_a_run_as_it_is_written(wizard_project, no_gpu):
    project = wizard_project("proj")
    app = WizardApp(Project.load(project.root), frozen=True)
    with job_lock(project):  # a trainer started elsewhere (`tui-lora train` in tmux) holds the lock
        async with run(app) as pilot:
            screen = await watch_offered_run(pilot)  # "(starting)": no step yet
            await wait_for(pilot, lambda: "● starting: loading the model" in flat(app), what="the starting state")
            await keys(pilot, "x Stop", hidden=("Start",))
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
            assert not screen.query_one("#train-sample").display  # no sample yet: no empty box
            w.emit("save", epoch=1, step=10, path=str(project.epoch_file(1)))
            w.emit("sample", epoch=1, path=str(project.samples_dir / "e01-0.png"))
            w.emit("warning", message="loss spiked at step 11")
            project.train_log_path.write_text("epoch 1 done\nsaving proj-000001.safetensors\n")
            await wait_for(pilot, lambda: "loss spiked at step 11" in flat(app), what="the warning notification")
            await clear_toasts(pilot)
            await wait_for(pilot, lambda: saves(screen) == ["epoch 1 proj-000001"] and "sample · epoch 1" in flat(app),
                           what="the save and the sample")
            preview = screen.query_one(ImagePreview)
            assert preview.item.path == project.samples_dir / "e01-0.png" and "e01-0.png" in flat(app)
            first_item = preview.item
            log = "".join(screen.query_one("#log").content.plain.split())
            assert "savingproj-000001.safetensors" in log  # the log tail: a long line wraps, never cut
            w.emit("step", step=20, epoch=2, loss=0.05, avg_loss=0.1, lr=1e-5, it_per_s=2.5, eta_s=0.0)
            w.emit("done", path=str(project.final_file()), steps=20, seconds=8.0)
            await wait_for(pilot, lambda: screen.snapshot.summary.state == "finished", what="the done event")
            assert preview.item is first_item  # steps and saves do not reload the picture; only samples do
    async with run(WizardApp(Project.load(project.root), frozen=True)) as pilot:
        await open_train(pilot)
        await wait_for(pilot, lambda: "✓ finished: 20 steps" in flat(pilot.app), what="the end of the run")


async def test_a_run_whose_process_is_gone_says_so(wizard_project, no_gpu):
    project = wizard_project("proj")
    w = EventWriter(project.events_path)
    w.emit("start", total_steps=20, epochs=2, steps_per_epoch=10, images=8, device="cuda")
    w.emit("step", step=3, epoch=1, loss=0.3, avg_loss=0.3, lr=5e-4, it_per_s=2.5, eta_s=4.0)
    app = WizardApp(Project.load(project.root), frozen=True)
    async with run(app) as pilot:
        await open_train(pilot)
        # no process holds the lock: the run ended without a word (killed, out of memory, a reboot)
        await wait_for(pilot, lambda: "✗ failed: The training process ended unexpectedly at step 3" in flat(app),
                       what="the dead run")
        await keys(pilot, "s Start over", hidden=("Resume",))  # no state was saved
        w.emit("error", message="CUDA out of memory; lower train_batch_size.")
        await wait_for(pilot, lambda: "✗ failed: CUDA out of memory" in flat(app), what="the failure")
        assert "Traceback" not in screen_text(app)


# ----- plain parts -----------------------------------------------------------------------------------
def test_the_start_question_names_only_what_exists(make_project):
    project = make_project(images=0)
    q = start_question(project, Earlier(resume_step=30, resume_epoch=3, files=1))
    assert q.splitlines() == [
        "Start a new training run of proj? It replaces the earlier one:",
        "• its resume point (step 30, epoch 3) in state/ is discarded, so r can no longer continue it;",
        ("• 1 LoRA file in output/ (proj-*.safetensors, proj.safetensors) is overwritten when the new run saves "
         "under the same names.")]
    assert start_question(project, Earlier(logs=True)).endswith("move to logs/previous/")


def test_a_burst_of_updates_collapses_into_one_message():
    from textual.message import Message

    from tui_lora.core.events import RunSummary
    from tui_lora.core.jobs import JobStatus
    from tui_lora.tui.train.monitor import Snapshot

    a = RunUpdated(Snapshot(RunSummary(), (), (), JobStatus("none", RunSummary()), version=1))
    b = RunUpdated(Snapshot(RunSummary(), (), (), JobStatus("none", RunSummary()), version=2))
    assert b.can_replace(a)
    assert not b.can_replace(Message())


def test_the_curve_is_drawn_with_block_characters():
    rows = curve_rows([1.0, 0.5, 0.0, 0.0], 4, 2)
    assert rows == ["█▁  ", "██▁▁"]  # top row first; the half value fills one and a bit rows
    assert curve_rows([0.3] * 10, 5, 2) == ["     ", "█████"]
    assert curve_rows([], 5, 2) == ["", ""]


def test_core_training_fixes_read_as_this_screens_keys():
    from types import SimpleNamespace

    from tui_lora.commands._fixes import say as cli_says
    from tui_lora.core.jobrun import resume_or_restart
    from tui_lora.core.train.checkpoint import stop_message
    from tui_lora.core.train.run import interrupted_message
    from tui_lora.tui.common.fixes import say

    project = SimpleNamespace(root="/home/u/proj")
    stopped = stop_message(project, 6, 12, 2, 4, resumable=True)
    assert say(stopped, "train") == ("Training stopped at step 6 of 12 (2 of 4 epochs done); continue it with "
                                     "r (Resume).")
    assert cli_says(stopped).endswith("continue it with `tui-lora train /home/u/proj --resume`.")
    unsaved = interrupted_message(project, None, 3)
    assert say(unsaved, "train").endswith("before any state was saved; start it again with s (Start).")
    interrupted = interrupted_message(project, SimpleNamespace(checkpoint="c.pt", step=30), 31)
    assert say(interrupted, "train") == ("Training was interrupted at step 31; r (Resume) continues from step 30, the "
                                         "last saved state.")
    both = UserError("This project has a stopped training at step 6 of 12", resume_or_restart(project))
    assert say(both, "train").endswith("continue it with r (Resume), or start over with s (Start over).")
    # Read on another step (the Project overview), the key says where it is.
    assert say(interrupted, "project").startswith(
        "Training was interrupted at step 31; r (Resume on 6 Train) continues")


async def test_a_new_runs_chart_forgets_the_previous_range():
    from textual.app import App

    from tui_lora.core.events import RunSummary
    from tui_lora.tui.train.loss_chart import LossChart

    class One(App):
        def compose(self):
            yield LossChart()

    app = One()
    async with app.run_test(size=(60, 8)) as pilot:
        chart = app.query_one(LossChart)
        chart.show((1.0, 0.5), RunSummary(state="finished"))
        await pilot.pause()
        assert chart.border_title == "loss (smoothed)" and "1 ┤" in chart.query_one(LossCurve).content.plain
        chart.show((), RunSummary(state="running"))  # Start over: no step yet
        await pilot.pause()
        assert chart.border_title == "loss (smoothed)" and "┤" not in chart.query_one(LossCurve).content.plain
