"""Errors reach the user as one line: a UserError's own sentence, anything else a short line that
names the log file holding the traceback. Never a traceback on screen."""

from tui_lora.core.errors import UserError
from tui_lora.core.userconfig import user_log_dir
from tui_lora.tui.app import WizardApp
from tui_lora.tui.errors import describe
from tui_lora.tui.start.screen import StartScreen
from wizard_support import flat, home, run, wait_for, wizard_project  # noqa: F401 - fixtures


def broken() -> None:
    raise RuntimeError("disk on fire\nsecond line")


def user_mistake() -> None:
    raise UserError("The folder is read-only; choose one you own.")


async def test_worker_errors_become_notifications(home):
    app = WizardApp(frozen=True)
    async with run(app) as pilot:
        app.screen.run_worker(user_mistake, thread=True, exit_on_error=False)
        await wait_for(pilot, lambda: "The folder is read-only; choose one you own." in flat(app))
        app.screen.run_worker(broken, thread=True, exit_on_error=False)
        await wait_for(pilot, lambda: "Unexpected error (RuntimeError: disk on fire)" in flat(app))
        # The toast wraps long paths mid-word, so read the notification's own text.
        last = list(app._notifications)[-1].message
        assert "wizard.log" in last and "Traceback" not in flat(app)
        assert isinstance(app.screen, StartScreen)  # the wizard goes on
    log = (user_log_dir() / "wizard.log").read_text()
    assert "Traceback" in log and "disk on fire" in log and "in broken" in log


def test_describe_keeps_user_errors_as_they_are():
    assert describe(UserError("Fix the thing.")) == "Fix the thing."
    assert describe(ValueError()).startswith("Unexpected error (ValueError); details are in ")


def test_a_crash_in_a_handler_leaves_one_line_and_a_log(home, capsys):
    class Crashing(WizardApp):
        def on_mount(self) -> None:
            raise KeyError("boom")

    app = Crashing()
    app.run(headless=True, size=(80, 24))
    err = capsys.readouterr().err
    assert app.return_code == 1
    assert "the wizard stopped unexpectedly (KeyError: 'boom'); details are in" in err
    # one sentence (wrapped to the terminal, so the line count depends on the log's path length)
    sentence = " ".join(line.strip() for line in err.strip().splitlines())
    assert "Traceback" not in err and err.count("error:") == 1 and sentence.endswith("please report it.")
    assert "KeyError: 'boom'" in (user_log_dir() / "wizard.log").read_text()


async def test_a_failed_worker_is_one_notification_on_every_step(wizard_project):
    """Textual runs an ``on_worker_state_changed`` of every class in the MRO: a screen that also
    called the base's handler itself showed each error twice."""
    from tui_lora.core.project import Project
    from tui_lora.tui.start.new_project import NewProjectScreen

    project = wizard_project("proj")
    app = WizardApp(Project.load(project.root), frozen=True)
    message = "The folder is read-only; choose one you own."
    async with run(app) as pilot:
        for key in ("1", "2", "3", "4", "5", "7"):
            await pilot.press(key)
            await pilot.pause()
            before = len(app._notifications)
            app.screen.run_worker(user_mistake, thread=True, exit_on_error=False)
            await wait_for(pilot, lambda before=before: len(app._notifications) > before,
                           what=f"the error on step {key}")
            await pilot.pause(0.2)
            shown = [n.message for n in list(app._notifications)[before:]]
            assert shown == [message], (key, shown)
        screen = NewProjectScreen()
        await app.push_screen(screen)
        before = len(app._notifications)
        screen.run_worker(user_mistake, thread=True, exit_on_error=False)
        await wait_for(pilot, lambda: len(app._notifications) > before, what="the error on the new-project form")
        await pilot.pause(0.2)
        assert [n.message for n in list(app._notifications)[before:]] == [message]
