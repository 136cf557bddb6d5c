"""End-to-end: check, dedupe, restore and crop as a user runs them (real subprocesses)."""

from __future__ import annotations

import json

from PIL import Image

from _dataset_helpers import bomb_png, save, snapshot, textured


def _project(tmp_path, run_cli, name="my proj ü"):
    proj = tmp_path / name
    r = run_cli("new", proj, "--preset", "sd15-anime-character", "--base-model",
                "stable-diffusion-v1-5/stable-diffusion-v1-5", "--trigger", "ohwx")
    assert r.returncode == 0, r.stderr
    return proj, proj / "dataset" / "10_ohwx"


def test_check_reports_fixes_and_restore_undoes(tmp_path, run_cli):
    proj, c = _project(tmp_path, run_cli)
    for i in range(3):
        save(textured(i, (512, 512)), c / f"good {i}.png", "ohwx, smile")
    (c / "empty.png").write_bytes(b"")
    (c / "bomb.png").write_bytes(bomb_png())
    rgba = textured(9, (512, 512)).convert("RGBA")
    rgba.putpixel((0, 0), (0, 0, 0, 0))
    save(rgba, c / "see through.png", "ohwx, transparent background")
    before = snapshot(proj / "dataset")

    r = run_cli("check", proj)
    assert r.returncode == 1, r.stderr  # unreadable files remain
    assert "empty file (0 bytes)" in r.stdout and "10_ohwx/bomb.png: it claims 400 megapixels" in r.stdout
    assert "transparent pixels" in r.stdout and "can be fixed with" in r.stdout
    assert "Traceback" not in r.stderr

    r = run_cli("check", proj, "--json")
    data = json.loads(r.stdout)
    assert data["errors"] == 2 and data["counts"]["transparency"] == 1 and data["fix"] is None

    r = run_cli("check", proj, "--fix", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    data = json.loads(r.stdout)
    assert data["fix"]["trashed"] == 2 and data["fix"]["fixed"] == 1 and data["errors"] == 0
    assert data["before"]["errors"] == 2
    assert (c / "see through.txt").read_text() == "ohwx, white background, simple background"

    r = run_cli("restore", proj, "--json")
    listing = json.loads(r.stdout)["trash"]
    assert sorted(e["name"] for e in listing) == ["bomb.png", "empty.png", "see through.png"]

    r = run_cli("restore", proj, "no such file.png")
    assert r.returncode == 2 and "Nothing in the trash matches 'no such file.png'" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1

    r = run_cli("restore", proj, "see through.png")
    assert r.returncode == 0 and "Restored 10_ohwx/see through.png" in r.stdout
    r = run_cli("restore", proj, "--all")
    assert r.returncode == 0, r.stderr
    assert snapshot(proj / "dataset") == before


def test_dedupe_dry_run_then_apply(tmp_path, run_cli):
    proj, c = _project(tmp_path, run_cli, name="dd")
    img = textured(1, (512, 512))
    save(img, c / "orig.png", "ohwx, a")
    save(img.resize((256, 256)), c / "small copy.jpg", "ohwx, a", quality=80)
    save(img.crop((20, 20, 492, 492)), c / "cropped copy.png", "ohwx, b")
    for i in range(2, 5):
        save(textured(i, (512, 512)), c / f"other {i}.png", "ohwx")
    r = run_cli("dedupe", proj, "--json")
    data = json.loads(r.stdout)
    assert r.returncode == 0 and not data["applied"]
    [g] = data["groups"]
    assert g["keeper"]["rel"] == "10_ohwx/orig.png"
    assert sorted(m["rel"] for m in g["others"]) == ["10_ohwx/cropped copy.png", "10_ohwx/small copy.jpg"]
    assert (c / "small copy.jpg").exists()

    r = run_cli("dedupe", proj, "--threshold", "1", "--json")
    strict = json.loads(r.stdout)
    assert strict["threshold"] == 1 and all(m["distance"] <= 1 for g in strict["groups"] for m in g["others"])

    r = run_cli("dedupe", proj, "--apply")
    assert r.returncode == 0 and "Moved 2 images" in r.stdout
    assert sorted(p.name for p in c.glob("*copy*")) == []
    r = run_cli("restore", proj, "*copy*")
    assert r.returncode == 0 and (c / "small copy.jpg").exists() and (c / "cropped copy.txt").exists()

    r = run_cli("dedupe", proj, "--backend", "clip", "--clip-model", tmp_path / "no model here")
    assert r.returncode == 2 and "No CLIP model is available offline" in r.stderr


def test_crop_command(tmp_path, run_cli):
    proj, c = _project(tmp_path, run_cli, name="crop")
    save(textured(1, (600, 400)), c / "wide.png", "ohwx")
    save(textured(2, (400, 600)), c / "tall.jpg", "ohwx", quality=90)
    r = run_cli("crop", proj, "--aspect", "2:3", "--size", "256", "--dry-run", "--json")
    data = json.loads(r.stdout)
    assert data["planned"] == 2 and data["size"] == [256, 384]
    r = run_cli("crop", proj, "tall.jpg", "--size", "256", "--mode", "focus")
    assert r.returncode == 0 and "Cropped 1 image to 1:1 (256×256, focus)" in r.stdout
    with Image.open(c / "tall.jpg") as im:
        assert im.size == (256, 256) and im.format == "JPEG"
    with Image.open(c / "wide.png") as im:
        assert im.size == (600, 400)
    r = run_cli("crop", proj, "nothing*.png")
    assert r.returncode == 2 and "No image in the concept folders matches" in r.stderr
