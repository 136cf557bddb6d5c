"""The Fetch and Tags screens' plain modules: form parsing, folders, memory, wording, sentences."""

import pytest

from tui_lora.core.booru.credentials import Credentials, save_credentials
from tui_lora.core.dataset import tagops
from tui_lora.core.errors import UserError
from tui_lora.tui.common.helptext import explain
from tui_lora.tui.fetch import fetchform as F
from tui_lora.tui.fetch.screen import FetchScreen
from tui_lora.tui.tags.screen import TagsScreen
from tui_lora.tui.tags.tag_work import describe_op, describe_undo, load_summary


def test_every_help_item_of_the_new_screens_explains_itself():
    for screen in (FetchScreen, TagsScreen):
        for item in screen.HELP_ITEMS:
            title, text = explain(item)
            assert title and len(text) > 40 and text.rstrip().endswith(".")


@pytest.mark.parametrize("text,ok", [("", None), (" 7 ", 7), ("-3", -3), ("x", "error")])
def test_min_score(text, ok):
    if ok == "error":
        with pytest.raises(UserError, match="not a whole number"):
            F.parse_min_score(text)
    else:
        assert F.parse_min_score(text) == ok


def test_limit_and_query_sentences():
    assert F.parse_limit("40") == 40
    with pytest.raises(UserError, match="out of range; use 1 to 5000"):
        F.parse_limit("0")
    with pytest.raises(UserError, match="Type the tags to search"):
        F.build(F.FetchForm(tags="  "), authenticated=False)
    q = F.build(F.FetchForm(source="danbooru", tags="a b", order="newest"), authenticated=False)
    assert q.tags == ("a", "b")
    with pytest.raises(UserError, match="this search counts 3 .*fill in Login and API key"):
        F.build(F.FetchForm(source="danbooru", tags="a b", order="score"), authenticated=False)
    assert F.build(F.FetchForm(source="danbooru", tags="a b c"), authenticated=True).tags == ("a", "b", "c")


def test_core_booru_fixes_name_the_fetch_screens_fields():
    from tui_lora.commands._fixes import say as cli_says
    from tui_lora.core import booru
    from tui_lora.core.booru.client_base import check_base_url
    from tui_lora.core.booru.clients import GelbooruClient
    from tui_lora.tui.common.fixes import say

    client = GelbooruClient(base_url="http://127.0.0.1:1")
    errors = [client._auth_error()]
    for call in (lambda: check_base_url("gelbooru", "ftp://x"), lambda: booru.build_query("gelbooru", "a -"),
                 lambda: booru.build_query("gelbooru", "  "),
                 lambda: booru.resolve_credentials("gelbooru", user_id="1")):
        with pytest.raises(UserError) as info:
            call()
        errors.append(info.value)
    for error in errors:  # the same fix as data: flags in the CLI, fields on the Fetch screen
        worded = say(error, "fetch")
        assert "--" not in worded and "re-run" not in worded and "--" in cli_says(error), worded
    assert say(errors[0], "fetch").endswith("fill in the account fields, or try Safebooru as the source.")
    assert cli_says(errors[0]).endswith("pass --user-id ID --api-key KEY (add --save-credentials to remember them), or "
                                        "try --source safebooru.")
    assert say(errors[1], "fetch") == ("The base URL 'ftp://x' is not a web address; use e.g. https://gelbooru.com as "
                                       "the Base URL.")
    assert say(errors[2], "fetch") == "'-' is not a tag; remove it from the tags."


def test_credentials_come_from_typing_the_environment_or_the_saved_file(monkeypatch):
    assert F.credentials("safebooru", "1", "k") == (None, "")
    with pytest.raises(UserError, match="Type the API key too"):
        F.credentials("gelbooru", "42", "")
    with pytest.raises(UserError, match="user id is a number"):
        F.credentials("gelbooru", "alice", "k")
    assert F.credentials("gelbooru", "", "") == (None, "")
    save_credentials("gelbooru", Credentials("42", "secret"))
    assert F.credentials("gelbooru", "", "") == (Credentials("42", "secret"), "saved")
    monkeypatch.setenv("TUI_LORA_GELBOORU_USER_ID", "7")
    monkeypatch.setenv("TUI_LORA_GELBOORU_API_KEY", "envkey")
    assert F.credentials("gelbooru", "", "") == (Credentials("7", "envkey"), "environment")
    assert F.credentials("gelbooru", "9", "typed")[1] == "typed"


def test_folders_and_memory(make_project):
    p = make_project(images=0)
    assert F.resolve_folder(p, "", create=False) == p.concepts()[0].path
    assert F.resolve_folder(p, "ohwx", create=False) == p.concepts()[0].path  # a concept's name works too
    new = F.resolve_folder(p, "5_extra", create=True)
    assert new.is_dir() and new.name == "5_extra"
    for bad, msg in (("other", "must look like <repeats>_<name>"), ("../x", "not a folder name")):
        with pytest.raises(UserError, match=msg):
            F.resolve_folder(p, bad, create=False)
    assert F.renamed_concept(p, "10_ohwx") is None
    p.concepts()[0].path.rename(p.dataset_dir / "4_ohwx")
    assert F.renamed_concept(p, "10_ohwx") == "4_ohwx" and F.renamed_concept(p, "7_other") is None
    form = F.FetchForm(source="gelbooru", tags="reimu", rating="general", limit="30", folder="5_extra")
    form.base_url = "http://mirror.example/g"
    # one address per site
    assert (form.base_urls["gelbooru"], form.base_urls["safebooru"]) == ("http://mirror.example/g", "")
    F.save_memory(p.root, form)
    assert F.load_memory(p.root) == form
    other = F.load_memory(p.root / "elsewhere")  # a new project starts from the last choices, not its tags
    assert (other.source, other.rating, other.limit, other.tags, other.folder) == ("gelbooru", "general", "30", "", "")


def test_summary_and_sentences(make_project):
    p = make_project(images=3)
    folder = p.concepts()[0].path
    (folder / "img_0000.txt").write_text("ohwx, highres, smile")
    s = load_summary(p)
    assert s.table.images == 3 and s.junk_here == [("highres", 1)] and s.last_undoable is None
    result = tagops.remove_tags(p, ["smile"])
    assert describe_op(result).startswith("Removed smile from ") and describe_op(result).endswith("(u undoes it).")
    assert load_summary(p).last_undoable.op == "remove"
    assert describe_undo(tagops.undo(p)).startswith("Undid remove (#1): restored ")
    assert describe_op(tagops.remove_tags(p, ["nothing here"])) == "No caption has those tags; nothing changed."
