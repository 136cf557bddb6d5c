"""The wizard's plain modules (no textual): run monitor, job detection, repeats, help texts, formats."""


import pytest
from wizard_support import job_lock

from tui_lora.core import settings as S
from tui_lora.core.errors import UserError
from tui_lora.core.events import EventWriter
from tui_lora.core.humanize import duration
from tui_lora.tui.common.format import fit, number, short_path
from tui_lora.tui.common.helptext import FIELDS, explain
from tui_lora.tui.navigation import STEPS, available, neighbour
from tui_lora.tui.steps.repeats import parse_repeats, set_repeats
from tui_lora.tui.steps.screen import EDITABLE
from tui_lora.tui.train.monitor import Earlier, RunMonitor, downsample, earlier_results, log_lines


def start(w, total=100):
    w.emit("start", total_steps=total, epochs=10, steps_per_epoch=total // 10, images=8, device="cuda")


def step(w, n, loss=0.1):
    w.emit("step", step=n, epoch=1, loss=loss, avg_loss=loss, lr=1e-4, it_per_s=2.0, eta_s=10.0)


def test_monitor_reports_only_changes_and_smooths(make_project):
    p = make_project(images=0)
    mon = RunMonitor(p)
    first = mon.poll()
    assert first is not None and first.summary.state == "none" and not first.running
    assert first.status.state == "none" and not first.earlier
    assert mon.poll() is None  # nothing changed: no snapshot, no redraw
    w = EventWriter(p.events_path)
    with job_lock(p):  # a live process holds the training lock: running
        start(w)
        for i, loss in enumerate([1.0, 0.0, 1.0, 0.0], 1):
            step(w, i, loss)
        snap = mon.poll()
        assert snap.running and snap.summary.step == 4 and snap.summary.total_steps == 100
        assert snap.earlier == Earlier()  # asked only of an idle run (no output/ scan per step)
        assert snap.smoothed[0] == 1.0 and 0.7 < snap.smoothed[-1] < 1.0  # an EMA, not the raw zig-zag
        assert mon.poll() is None
        w.emit("done", path="x.safetensors", steps=4, seconds=3.0)
        snap = mon.poll()
        assert snap.summary.state == "finished" and snap.running  # the process has not let go yet
    snap = mon.poll()  # the lock is gone: a change of its own, without a new event
    assert snap.status.state == "finished" and not snap.running and snap.earlier == Earlier(logs=True)


def test_a_run_whose_process_is_gone_is_not_running(make_project):
    """No pid, no run: events without an end and no live lock read as a run that ended unexpectedly."""
    p = make_project(images=0)
    w = EventWriter(p.events_path)
    start(w)
    step(w, 3)
    snap = RunMonitor(p).poll()
    assert not snap.running and snap.status.state == "failed"
    assert "ended unexpectedly at step 3" in snap.status.message.problem.text()


def test_earlier_results_name_what_a_new_run_replaces(make_project):
    from tui_lora.core.jobs import job_status

    p = make_project(images=0)
    assert not earlier_results(p, job_status(p))
    p.output_dir.mkdir(exist_ok=True)
    for name in (f"{p.output_name}-000001.safetensors", f"{p.output_name}.safetensors", "other.safetensors",
                 f"{p.output_name}2.safetensors", f"{p.output_name}-best.safetensors",
                 f"{p.output_name}-step00000012.safetensors"):
        (p.output_dir / name).write_bytes(b"x")
    # only the names a run writes: not the picked -best file, nor other projects' files
    assert earlier_results(p, job_status(p)) == Earlier(files=3)
    p.train_log_path.write_text("loading model\n")
    assert earlier_results(p, job_status(p)) == Earlier(logs=True, files=3)


def test_monitor_follows_the_log_and_a_replaced_events_file(make_project):
    p = make_project(images=0)
    w = EventWriter(p.events_path)
    start(w)
    step(w, 1)
    mon = RunMonitor(p)
    assert mon.poll().summary.step == 1
    p.train_log_path.write_text("a\nbar 10%\rbar 100%\n\x1b[31mred\x1b[0m\n")
    snap = mon.poll()
    assert snap.log_lines == ("a", "bar 100%", "red")
    p.events_path.unlink()
    EventWriter(p.events_path).emit("error", message="CUDA out of memory")
    snap = mon.poll()
    assert snap.summary.state == "failed" and snap.summary.step == 0 and snap.smoothed == ()


def test_set_repeats_renames_the_folder(make_project):
    p = make_project(images=3)
    c = p.concepts()[0]
    assert c.folder == "10_ohwx"
    moved = set_repeats(p, c, 4)
    assert moved.folder == "4_ohwx" and [x.folder for x in p.concepts()] == ["4_ohwx"]
    assert len(moved.images()) == 3
    assert set_repeats(p, moved, 4) is moved


def test_set_repeats_refuses_to_clobber_or_to_rename_under_a_running_job(make_project):
    p = make_project(images=1)
    c = p.concepts()[0]
    (p.dataset_dir / "5_ohwx").mkdir()
    with pytest.raises(UserError, match="already exists"):
        set_repeats(p, c, 5)
    with job_lock(p), pytest.raises(UserError, match="training run"):
        set_repeats(p, c, 6)
    assert [x.folder for x in p.concepts()] == ["10_ohwx", "5_ohwx"]


@pytest.mark.parametrize("text", ["", "x", "1.5", "0", "-3", "100000"])
def test_parse_repeats_rejects_with_a_sentence(text):
    with pytest.raises(UserError) as e:
        parse_repeats(text)
    assert e.value.message.endswith(".") and "\n" not in e.value.message


def test_every_field_of_the_wizard_has_help():
    for _, dotted, _ in EDITABLE:
        title, text = explain(dotted)
        assert dotted in title and S.key(dotted).help in text and "Allowed:" in text
    for name in FIELDS:
        assert explain(name)[1]
    with pytest.raises(UserError):
        explain("training.no_such_key")


def test_navigation_skips_steps_that_are_coming():
    assert neighbour("project", 1).id == "fetch"
    assert neighbour("fetch", 1).id == "review"
    assert neighbour("steps", -1).id == "tags"
    assert neighbour("train", 1).id == "compare"
    assert neighbour("project", -1) is None and neighbour("compare", 1) is None
    for s in STEPS:
        assert available(s) or s.coming


def test_formatters(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert short_path(tmp_path / "a") == "~/a" and short_path("/elsewhere") == "/elsewhere"
    assert fit("abcdef", 4) == "…def"
    assert duration(59) == "59 s" and duration(61) == "1 min 01 s" and duration(3700) == "1 h 01 min"
    assert duration(None) == "–" and number(None) == "–" and number(5e-4, 3) == "5.00e-04"
    assert downsample(list(range(10)), 5) == [0.5, 2.5, 4.5, 6.5, 8.5]
    assert log_lines("x\ny", partial_first=True) == ["y"]


def test_the_resume_epoch_is_the_one_the_resume_step_was_in():
    from tui_lora.core.events import RunSummary
    from tui_lora.core.jobs import JobStatus
    from tui_lora.tui.train.monitor import resume_epoch

    def status(step, epoch, resume_step, done):
        return JobStatus("stopped", RunSummary(step=step, epoch=epoch), resumable=True, resume_step=resume_step,
                         resume_epoch=done)

    assert resume_epoch(status(7, 2, 7, 1)) == 2  # stopped mid-epoch 2: one epoch done
    assert resume_epoch(status(10, 2, 10, 2)) == 2  # stopped at the end of epoch 2
    assert resume_epoch(status(13, 3, 10, 2)) == 2  # killed in epoch 3: the state of epoch 2's end
    assert resume_epoch(JobStatus("finished", RunSummary())) is None


def test_wizard_forms_are_remembered_per_project_newest_kept(tmp_path, monkeypatch):
    from tui_lora.core import userconfig as U

    monkeypatch.setattr(U, "FORM_PROJECTS_LIMIT", 2)
    a, b, c = (tmp_path / n for n in "abc")
    U.save_form("forms.toml", a, {"x": "1"})
    U.save_form("forms.toml", b, {"x": "2"}, last=True)
    U.save_form("forms.toml", a, {"x": "3"})  # used again: now the newest
    U.save_form("forms.toml", c, {"x": "4"})  # over the limit: b, the longest unused, goes
    assert U.load_form("forms.toml", a) == {"x": "3"} and U.load_form("forms.toml", c) == {"x": "4"}
    assert U.load_form("forms.toml", b) is None
    assert U.load_user_config("forms.toml")["last"] == {"x": "2"}  # only saves with last=True set it
