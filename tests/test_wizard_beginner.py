"""The beginner's path in the wizard (issue 13): tagging asks before it replaces captions, the trigger
word is one fact, the base model is changed in the wizard, Fetch shows pictures, quitting during a
training says it goes on, Compare exports the LoRA and the Project step points there, the demo is one
key away and its fake booru never leaks into a real project."""

import json
import shutil

import pytest
from textual.widgets import Input

from tui_lora.core.project import Project
from tui_lora.demo.tiny_tagger import build_tiny_wd14
from tui_lora.tui.app import WizardApp
from tui_lora.tui.fetch import fetchform
from tui_lora.tui.fetch.preview_strip import PreviewStrip
from wizard_support import flat, home, job_lock, run, screen_text, settle, wait_for, wizard_project  # noqa: F401


@pytest.fixture(scope="module")
def tiny_wd14(tmp_path_factory):
    return build_tiny_wd14(tmp_path_factory.mktemp("wd14") / "tiny")


def status_line(app, widget_id: str) -> str:
    return " ".join(str(app.screen.query_one(widget_id).content).split())


def fake_lora(path, epoch: int) -> None:
    header = json.dumps({"__metadata__": {"ss_epoch": str(epoch)},
                         "w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})
    raw = header.encode() + b" " * (-len(header) % 8)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(len(raw).to_bytes(8, "little") + raw + bytes([epoch]) * 8)


# ----- 6: tagging asks before it replaces --------------------------------------------------------------
async def test_tagging_asks_what_to_do_with_existing_captions(wizard_project, tiny_wd14):
    from tui_lora.demo.datasets import write_dataset

    project = wizard_project("proj", images=0)
    folder = project.concepts()[0].path
    write_dataset(folder, 5, size=(32, 32), captions=False, trigger="ohwx")
    images = sorted(folder.glob("*.png"))
    for img in images[:3]:  # the booru's tags, as Fetch writes them
        img.with_suffix(".txt").write_text("ohwx, from the booru, red bow")
    project.set("tags.tagger_model", str(tiny_wd14))
    project.save()
    app = WizardApp(Project.load(project.root), frozen=True)
    async with run(app) as pilot:
        await pilot.press("4")
        tags = app.screen
        await wait_for(pilot, lambda: tags.summary is not None, what="the tag table")
        await pilot.press("r")
        await pilot.pause()
        text = flat(app)
        assert "3 of 5 images already have captions" in text
        assert "Add new tags: keep the 3 captions" in text and "2 images without one get a new caption" in text
        assert "Only images without a caption: tag 2 images" in text
        assert "Replace: all 5 images get only the tagger's tags" in text
        await pilot.press("escape")  # cancel: nothing runs
        await pilot.pause()
        assert not tags.busy and images[3].with_suffix(".txt").exists() is False

        await pilot.press("r")
        await pilot.pause()
        await pilot.press("enter")  # the default: add new tags
        await wait_for(pilot, lambda: "Tagged" in status_line(app, "#tags-status") and not tags.busy,
                       timeout=20, what="the tagger")
        for img in images[:3]:
            caption = img.with_suffix(".txt").read_text()
            assert caption.startswith("ohwx, from the booru, red bow")  # kept, new tags after them
            assert "kagamine rin" in caption
        assert all(img.with_suffix(".txt").is_file() for img in images)


# ----- 7: the trigger word is one fact -----------------------------------------------------------------
async def test_changing_the_trigger_word_changes_sample_prompts_and_compare_prompt(wizard_project):
    project = wizard_project("marisa", images=3, trigger="ohwx")
    project.set("sample.prompts", ["ohwx, smile --w 512 --h 512", "ohwx, 1girl, ohwxy, standing"])
    project.save()
    fake_lora(project.epoch_file(1), 1)
    app = WizardApp(Project.load(project.root), frozen=True)
    async with run(app) as pilot:
        await pilot.press("7")
        await settle(pilot)
        prompt = app.screen.query_one("#prompt", Input)
        assert prompt.value.startswith("ohwx, smile")
        await pilot.press("4")
        tags = app.screen
        await wait_for(pilot, lambda: tags.summary is not None, what="the tag table")
        await pilot.press("t", "ctrl+u", *"mrsx", "enter")
        await wait_for(pilot, lambda: not tags.busy and "mrsx" in flat(app), what="the new trigger word")
        saved = Project.load(project.root)
        assert saved.settings["project"]["trigger_word"] == "mrsx"
        assert saved.settings["sample"]["prompts"] == ["mrsx, smile --w 512 --h 512", "mrsx, 1girl, ohwxy, standing"]
        await pilot.press("7")
        await settle(pilot)
        assert app.screen.query_one("#prompt", Input).value.startswith("mrsx, smile")
        await pilot.press("4", "u")  # one undo puts back the word, the captions and the prompts
        await wait_for(pilot, lambda: not tags.busy and "Undid" in status_line(app, "#tags-status"), what="undo")
        assert Project.load(project.root).settings["sample"]["prompts"][0] == "ohwx, smile --w 512 --h 512"


# ----- 8: the base model in the wizard -----------------------------------------------------------------
async def test_the_base_model_is_changed_and_checked_on_the_project_step(wizard_project, tiny_sd15, tiny_sdxl):
    project = wizard_project("marisa", images=2)
    app = WizardApp(Project.load(project.root), frozen=True)
    async with run(app) as pilot:
        await settle(pilot)
        assert "b Base model" in screen_text(app)
        await pilot.press("b")
        await pilot.pause()
        field = app.screen.query_one("#base-model", Input)
        assert field.value == "stable-diffusion-v1-5/stable-diffusion-v1-5"
        await pilot.press("ctrl+u", *"/nowhere/model.safetensors")
        await pilot.pause()
        assert "does not exist" in flat(app)
        await pilot.press("enter")  # refused: the dialog stays, nothing is saved
        assert type(app.screen).__name__ == "BaseModelDialog"
        await pilot.press("ctrl+u", *str(tiny_sdxl))
        await pilot.pause()
        assert "This is an SDXL model but the project is SD1.5" in flat(app)
        await pilot.press("ctrl+u", *str(tiny_sd15))
        await pilot.pause()
        assert "SD1.5 (read from the model folder)" in flat(app)
        await pilot.press("enter")
        await settle(pilot)
        assert type(app.screen).__name__ == "ProjectScreen"
        assert Project.load(project.root).get("model.pretrained_model_name_or_path") == str(tiny_sd15)
        assert str(tiny_sd15).split("/")[-1] in flat(app)


# ----- 9: Fetch shows pictures ----------------------------------------------------------------------
async def test_fetch_shows_the_first_results_pictures(wizard_project, booru_server):
    srv = booru_server
    project = wizard_project("proj", images=0)
    app = WizardApp(Project.load(project.root), frozen=True)
    async with run(app) as pilot:
        await pilot.press("2")
        await pilot.pause()
        app.screen.query_one("#base_url", Input).value = srv.base_url("safebooru")
        await pilot.press(*"hakurei_reimu")
        await wait_for(pilot, lambda: "posts match" in flat(app), timeout=10, what="the count")
        strip = app.screen.query_one(PreviewStrip)
        shown = [p.id for p in app.screen.result.preview][:len(strip.post_ids)]
        await wait_for(pilot, lambda: all(i is not None and i.path.is_file() for i in strip.items[:len(shown)]),
                       timeout=15, what="the previews")
        assert strip.post_ids == shown and strip.display
        # each picture is the site's thumbnail of that post, fetched once, kept in the project's cache
        paths = {r.path for r in srv.preview_requests()}
        assert len(paths) == len(shown) and not srv.file_requests()  # no full image before the download
        cache = project.root / ".cache" / "booru-previews"
        for post_id, item in zip(shown, strip.items):
            assert item.path.parent == cache and item.path.read_bytes() == srv.post(post_id).preview
        visible = [c for c in strip.cells if c.display]
        assert len(visible) >= 5 and all(f"#{i}" in flat(app) for i in shown[:len(visible)])  # 80 columns: 5 fit

        before = len(srv.preview_requests())
        await pilot.press("ctrl+r")  # the same search again: the pictures come from the cache
        await settle(pilot)
        await pilot.pause(0.5)
        assert len(srv.preview_requests()) == before

        await pilot.press("ctrl+u", *"no_such_tag_at_all")
        await wait_for(pilot, lambda: "Nothing matches" in flat(app), timeout=10, what="no results")
        assert not strip.display


# ----- 11: quitting during a training ----------------------------------------------------------------
class Watched(WizardApp):
    """The wizard, keeping what it said on the way out (Textual prints it to the terminal, then drops it)."""

    said: list = []

    def exit(self, result=None, return_code: int = 0, message=None) -> None:
        self.said.append(message)
        super().exit(result, return_code, message)


async def test_quitting_while_training_runs_says_it_goes_on_and_how_to_come_back(wizard_project):
    project = wizard_project("marisa", images=2)
    app = Watched(Project.load(project.root), frozen=True)
    app.said = []
    with job_lock(project):
        async with run(app) as pilot:
            await wait_for(pilot, lambda: "Watch it" in flat(app), what="the offer to watch the run")
            await pilot.press("n")  # not now
            await pilot.press("ctrl+q")
    message = str(app.said[-1] or "")
    assert "Training of marisa goes on in the background" in message
    assert f"tui-lora open {project.root}" in message and f"tui-lora status {project.root} --follow" in message

    quiet = Watched(Project.load(project.root), frozen=True)
    quiet.said = []
    async with run(quiet) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+q")
    assert quiet.said == [None]  # nothing running: nothing to say


# ----- 14: export from Compare, and Project's next step --------------------------------------------------
async def test_compare_exports_the_winner_into_comfyui(wizard_project, tmp_path, monkeypatch):
    project = wizard_project("marisa", images=2)
    for epoch in (1, 2):
        fake_lora(project.epoch_file(epoch), epoch)
    best = project.output_dir / "marisa-best.safetensors"
    shutil.copy(project.epoch_file(2), best)
    comfy = tmp_path / "ComfyUI"
    (comfy / "comfy").mkdir(parents=True)
    (comfy / "main.py").write_text("# ComfyUI\n")
    monkeypatch.setenv("COMFYUI_PATH", str(comfy))
    monkeypatch.setenv("TUI_LORA_UI_ROOTS", str(tmp_path / "nothing-here"))
    app = WizardApp(Project.load(project.root), frozen=True)
    async with run(app) as pilot:
        await settle(pilot)
        assert "e exports marisa-best.safetensors into ComfyUI, A1111 or Forge" in flat(app)  # Next, on 1 Project
        await pilot.press("7")
        await settle(pilot)
        await pilot.press("e")
        await pilot.pause()
        text = flat(app)
        assert "Copy marisa-best.safetensors to:" in text and "not found (set A1111_PATH)" in text
        await pilot.press("enter")  # ComfyUI: found, highlighted
        target = comfy / "models" / "loras" / "marisa-best.safetensors"
        await wait_for(pilot, lambda: target.is_file(), what="the copy")
        await settle(pilot)
        assert target.read_bytes() == best.read_bytes()
        assert "<lora:marisa-best:0.8>, ohwx" in flat(app) and "LoraLoader" in flat(app)

        best.write_bytes(project.epoch_file(1).read_bytes())  # another winner: a different file now
        await pilot.press("e")
        await pilot.pause()
        await pilot.press("enter")
        await wait_for(pilot, lambda: "Replace it?" in flat(app), what="the question")
        await pilot.press("n")  # keep it
        await settle(pilot)
        assert target.read_bytes() == project.epoch_file(2).read_bytes()
        await pilot.press("e")
        await pilot.pause()
        await pilot.press("enter")
        await wait_for(pilot, lambda: "Replace it?" in flat(app), what="the question")
        await pilot.press("y")
        await wait_for(pilot, lambda: target.read_bytes() == best.read_bytes(), what="the replacement")


# ----- 1 and 2: the demo one key away, and kept to itself ------------------------------------------------
@pytest.fixture(scope="module")
def demo_copy(tmp_path_factory):
    """A demo built once by the real CLI for this module."""
    import subprocess
    import sys

    from conftest import cli_env

    base = tmp_path_factory.mktemp("demo")
    r = subprocess.run([sys.executable, "-m", "tui_lora", "demo", str(base / "demo"), "--no-open"],
                       capture_output=True, text=True, env={**cli_env(), "TUI_LORA_CONFIG_DIR": str(base / "cfg")},
                       timeout=600)
    assert r.returncode == 0, r.stderr
    return base / "demo"


async def test_the_empty_start_screen_offers_the_demo_and_its_booru_stays_in_it(home, demo_copy, monkeypatch):
    data = home / "data"
    shutil.copytree(demo_copy, data / "tui-lora" / "demo")
    monkeypatch.setenv("XDG_DATA_HOME", str(data))
    app = WizardApp(frozen=True)
    async with run(app) as pilot:
        await settle(pilot)
        text = flat(app)
        assert "No recent projects yet" in text and "Press d to try every step on the DEMO project" in text
        assert "d Try the demo" in screen_text(app)
        await pilot.press("d")
        await wait_for(pilot, lambda: app.is_demo and "DEMO PROJECT" in flat(app), timeout=20, what="the demo")
        assert str(app.project.root) == str(data / "tui-lora" / "demo")
        await pilot.press("2")
        await wait_for(pilot, lambda: "127.0.0.1" in app.screen.query_one("#base_url", Input).value, what="Fetch")
        await pilot.press("ctrl+q")

    # A real project made afterwards starts from the site's own address, not the demo's fake booru.
    from tui_lora.core.project import Project as P

    real = P.create(home / "real", preset="sd15-anime-character",
                    base_model="stable-diffusion-v1-5/stable-diffusion-v1-5")
    form = fetchform.load_memory(real.root)
    assert form.base_urls == {name: "" for name in form.base_urls}
    assert form.source == fetchform.FetchForm().source and form.limit == fetchform.FetchForm().limit


def test_a_remembered_loopback_address_is_not_carried_to_a_new_project(home):
    from tui_lora.core.userconfig import save_form

    save_form(fetchform.MEMORY_FILE, home / "old", {"source": "gelbooru", "rating": "general",
                                                     "safebooru_url": "http://127.0.0.1:40123/safebooru",
                                                     "gelbooru_url": "https://mirror.example.org"}, last=True)
    form = fetchform.load_memory(home / "new")
    assert form.source == "gelbooru" and form.rating == "general"  # the choices carry over
    assert form.base_urls["safebooru"] == ""  # a fake booru of an earlier session does not
    assert form.base_urls["gelbooru"] == "https://mirror.example.org"  # a real mirror does
