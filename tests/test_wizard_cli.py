"""`tui-lora` and `tui-lora open DIR` start the wizard; without a terminal, or on a bad folder,
they say so in one sentence instead of drawing a broken screen."""


def test_open_without_a_terminal_says_so(run_cli, make_project):
    project = make_project(images=0)
    r = run_cli("open", project.root)
    assert r.returncode == 2
    assert r.stderr.strip() == ("error: The wizard needs a terminal; in scripts use the headless commands "
                                "(tui-lora --help).")
    r = run_cli()
    assert r.returncode == 2 and "needs a terminal" in r.stderr and "Traceback" not in r.stderr


def test_open_rejects_json_output(run_cli, make_project):
    project = make_project(images=0)
    r = run_cli("open", project.root, "--json")
    assert r.returncode == 2 and '"error"' in r.stdout and "no --json output" in r.stdout


def test_open_a_missing_folder(run_cli, tmp_path):
    r = run_cli("open", tmp_path / "missing")
    assert r.returncode == 2
    assert r.stderr.startswith("error: The project folder") and "does not exist" in r.stderr
