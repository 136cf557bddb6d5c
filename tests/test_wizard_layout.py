"""Nothing cut off at 80×24, and a large terminal used (issue 13 item 4): the Train screen as snapshots
at 80×24 and 160×48 (loss chart with its scale, saved files with a stop's file named so, the sample
growing), a failed run's whole sentence, footers that say "? more keys" when keys do not fit, the
DEMO badge apart from the steps, the sample full screen."""

import json

from tui_lora.core.errors import Fix, Notice, RunAction
from tui_lora.core.project import Project
from tui_lora.core.train.record import RunRecord, write_record
from tui_lora.tui.app import WizardApp
from tui_lora.tui.common.key_footer import KeyFooter
from tui_lora.tui.common.progress_text import progress_bar
from tui_lora.tui.common.step_bar import StepBar
from tui_lora.tui.train.loss_chart import curve_rows, with_scale
from wizard_support import assert_snapshot, flat, home, screen_text, settle, wait_for, wizard_project  # noqa: F401


def stopped_run(project, *, t0: float = 1_700_000_000.0) -> None:
    """Events of a run stopped twice (the first stop's file superseded by the second's), with fixed times."""
    lines = [{"event": "start", "time": t0, "total_steps": 40, "epochs": 4, "steps_per_epoch": 10, "images": 8,
              "device": "cuda"}]
    for step in range(1, 26):
        loss = 0.2 - 0.003 * step + (0.02 if step % 4 == 0 else 0.0)
        lines.append({"event": "step", "time": t0 + step, "step": step, "epoch": (step - 1) // 10 + 1,
                      "loss": round(loss, 4), "avg_loss": round(loss + 0.004, 4), "lr": 5e-4, "it_per_s": 1.5,
                      "eta_s": float(40 - step)})
        if step == 10:
            lines.append({"event": "save", "time": t0 + step, "epoch": 1, "step": 10, "path": str(project.epoch_file(1))})
        if step == 14:
            lines.append({"event": "save", "time": t0 + step, "epoch": 1, "step": 14,
                          "path": str(project.output_dir / "marisa-step00000014.safetensors")})
        if step == 20:
            lines.append({"event": "save", "time": t0 + step, "epoch": 2, "step": 20, "path": str(project.epoch_file(2))})
            lines.append({"event": "sample", "time": t0 + step, "epoch": 2,
                          "path": str(project.samples_dir / "e02-0.png")})
    lines.append({"event": "save", "time": t0 + 25, "epoch": 2, "step": 25,
                  "path": str(project.output_dir / "marisa-step00000025.safetensors")})
    message = ("Training stopped at step 25 of 40 (2 of 4 epochs done); continue it with "
               f"`tui-lora train {project.root} --resume`.")
    lines.append({"event": "warning", "time": t0 + 26, "message": message})
    project.events_path.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    project.train_log_path.write_text(
        "training: 40 steps in 4 epochs (10 per epoch, 8 images) on cuda\n"
        "saved ~/marisa/output/marisa-000001.safetensors, and then a line long enough to wrap at eighty columns\n",
        encoding="utf-8")
    write_record(project, RunRecord(status="stopped", message=message, step=25, epoch=2, total_steps=40, epochs=4,
                                    checkpoint="checkpoint-00000025.pt"))
    (project.state_dir / "checkpoint-00000025.pt").write_bytes(b"state")


async def open_train(pilot) -> None:
    await pilot.press("6")
    await wait_for(pilot, lambda: pilot.app.screen.snapshot is not None, what="the first snapshot")
    await pilot.pause(0.3)


async def test_train_screen_at_80x24_and_160x48(wizard_project):
    project = wizard_project("marisa", images=8)
    stopped_run(project)
    for size, name in (((80, 24), "train_stopped_80x24"), ((160, 48), "train_stopped_160x48")):
        app = WizardApp(Project.load(project.root), frozen=True)
        async with app.run_test(size=size, notifications=True) as pilot:
            await open_train(pilot)
            assert_snapshot(app, name)
            text = flat(app)
            assert "stopped at step 25" in text and "stopped at step 14" not in text  # the newest stop-save only
            assert "epoch 1" in text and "epoch 2" in text
            chart = app.screen.query_one("#loss")
            sample = app.screen.query_one("#train-sample")
            saves = app.screen.query_one("#train-saves")
            if size == (80, 24):
                small = (chart.size, sample.size, saves.size)
            else:  # everything grows with the terminal
                assert chart.size.height > small[0].height and chart.size.width > small[0].width
                assert sample.size.width > small[1].width and sample.size.height > small[1].height
                assert saves.size.width > small[2].width and saves.size.height > small[2].height
            log = app.screen.query_one("#log").content.plain
            assert log.rstrip().endswith("columns") and "…" not in log  # a long line wraps, never cut


async def test_a_failed_runs_sentence_is_never_cut_and_the_sample_opens_full_screen(wizard_project):
    project = wizard_project("marisa", images=8)
    stopped_run(project)
    message = Notice("Out of GPU memory at step 25 with batch size 2 at 1024 px",
                     Fix("lower training.train_batch_size to 1, turn on training.gradient_checkpointing, or train at "
                         "dataset.resolution 768, then continue it with {}", RunAction("train.resume", str(project.root))))
    write_record(project, RunRecord(status="failed", message=message, step=20, epoch=2, total_steps=40, epochs=4,
                                    checkpoint="checkpoint-00000025.pt"))
    with open(project.events_path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"event": "error", "time": 1_700_000_030.0, **message.to_dict()}) + "\n")
    app = WizardApp(Project.load(project.root), frozen=True)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await open_train(pilot)
        status = " ".join(str(app.screen.query_one("#train-status").content).split())
        assert "train at dataset.resolution 768, then continue it with r (Resume)" in status
        assert "then continue it with r (Resume)" in flat(app)  # on screen, whole
        await pilot.press("v")
        await pilot.pause()
        assert type(app.screen).__name__ == "SampleViewer" and "sample · epoch 2" in flat(app)
        assert app.screen.query_one("#sample-full").size.width > 70  # the whole terminal
        await pilot.press("escape")
        await pilot.pause()
        assert type(app.screen).__name__ == "TrainScreen"


async def test_footers_show_every_key_or_say_more_keys(wizard_project):
    project = wizard_project("marisa", images=4)
    app = WizardApp(Project.load(project.root), frozen=True)
    async with app.run_test(size=(80, 24)) as pilot:
        for key in "1234567":
            await pilot.press(key)
            await pilot.pause(0.3)
            if key == "2":  # Fetch with no tags yet puts the cursor in Tags; the footer says how to leave it
                line = screen_text(app).splitlines()[-1]
                assert "esc Leave field" in line and ("F1 Help" in line or line.rstrip().endswith("F1 more keys"))
                await pilot.press("escape")
            footer = app.screen.query_one(KeyFooter)
            line = screen_text(app).splitlines()[-1]
            shown = footer.keys()
            everything = all(f"{k} {what}" in line for k, what, _ in shown)
            assert everything or line.rstrip().endswith("? more keys"), line
        await pilot.press("3")  # Review has the most keys
        await pilot.pause(0.3)
        await pilot.resize_terminal(56, 24)
        await pilot.pause(0.3)
        line = screen_text(app).splitlines()[-1]
        assert line.rstrip().endswith("? more keys") and "esc Back" in line and len(line.rstrip()) <= 56


def test_the_demo_badge_stands_apart_and_the_bar_keeps_its_percentage():
    bar = StepBar("fetch", demo=True)
    text = bar.render().plain
    assert text.startswith(" DEMO  1 Project › ")  # a space after the badge as well as before the step
    for width in (10, 31, 78, 158):
        line = progress_bar(40, 40, width)
        assert line.plain.endswith(" 100%") and line.cell_len <= width


def test_the_loss_curve_has_a_scale():
    rows = curve_rows([0.2, 0.15, 0.1], 12, 4)
    text = with_scale(rows, 0.1, 0.2).plain.splitlines()
    assert text[0].startswith("0.2 ┤") and text[-1].startswith("0.1 ┤") and text[1].startswith("    │")
