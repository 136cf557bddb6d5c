"""End-to-end: `tui-lora tags` in a subprocess: table, edits, find, history, undo."""

import json


def test_tags_edit_find_history_and_undo(run_cli, make_project):
    project = make_project(images=3, trigger="ohwx")
    folder = project.concepts()[0].path
    (folder / "img_0000.txt").write_bytes(b"\xef\xbb\xbfohwx, absurdres, vertical stripes, smile, smile\n")
    (folder / "img_0001.txt").write_text("striped shirt, belfast (azur lane), highres")
    (folder / "img_0002.txt").write_text("watermark, long hair")
    original = {p.name: p.read_bytes() for p in folder.glob("*.txt")} | {"toml": project.toml_path.read_bytes()}

    r = run_cli("tags", project.root, "--json")
    table = json.loads(r.stdout)
    assert r.returncode == 0 and table["images"] == 3 and table["needs_cleaning"] == 1
    assert {"tag": "ohwx", "images": 1, "percent": 33.3} in table["tags"]

    r = run_cli("tags", project.root, "--junk", "--remove-pattern", "* (azur lane)", "--replace",
                "vertical stripes,striped shirt=striped shirt", "--dedupe", "--trigger", "sks")
    assert r.returncode == 0, r.stderr
    assert "junk: changed 3 captions." in r.stdout and "set project.trigger_word = 'sks'" in r.stdout
    assert (folder / "img_0000.txt").read_bytes() == b"sks, striped shirt, smile\n"
    assert (folder / "img_0001.txt").read_text() == "sks, striped shirt"
    assert (folder / "img_0002.txt").read_text() == "sks, long hair"

    r = run_cli("tags", project.root, "--find", "striped_shirt", "--json")
    assert [i["image"] for i in json.loads(r.stdout)["images"]] == ["dataset/10_ohwx/img_0000.png",
                                                                     "dataset/10_ohwx/img_0001.png"]
    r = run_cli("tags", project.root, "--history", "--json")
    assert [h["op"] for h in json.loads(r.stdout)["history"]] == ["trigger", "dedupe", "replace",
                                                                   "remove-pattern", "junk"]
    r = run_cli("tags", project.root, "--undo", "5", "--json")
    assert r.returncode == 0, r.stdout
    assert len(json.loads(r.stdout)["undone"]) == 5
    assert {p.name: p.read_bytes() for p in folder.glob("*.txt")} | {"toml": project.toml_path.read_bytes()} == original


def test_tags_bad_input_is_one_line(run_cli, make_project):
    project = make_project(images=1)
    r = run_cli("tags", project.root, "--undo")
    assert r.returncode == 2 and r.stderr.strip() == (
        "error: There is nothing to undo: no caption operation of this project has a snapshot left.")
    r = run_cli("tags", project.root, "--replace", "no equals sign")
    assert r.returncode == 2 and "has no '='" in r.stderr and "Traceback" not in r.stderr
    r = run_cli("tags", project.root, "--undo", "--remove", "x", "--json")
    assert r.returncode == 2 and "cannot be combined" in json.loads(r.stdout)["error"]
