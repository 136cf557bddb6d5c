"""The CLI and the wizard start fast because heavy libraries are imported only when needed."""

import subprocess
import sys

import pytest

from conftest import cli_env

HEAVY = ("torch", "diffusers", "peft", "onnxruntime", "transformers", "accelerate", "bitsandbytes")
UI = ("textual", "rich", "questionary")


def modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys; print('\\n'.join(sys.modules))"],
                         capture_output=True, text=True, env=cli_env(), check=True).stdout
    return set(out.split())


def test_cli_import_keeps_heavy_libraries_out():
    mods = modules_after("import tui_lora.cli; tui_lora.cli.build_parser()")
    assert not [m for m in HEAVY if m in mods]


def test_core_never_imports_ui_libraries():
    code = (
        "import pkgutil, importlib, tui_lora.core as c\n"
        "for m in pkgutil.walk_packages(c.__path__, 'tui_lora.core.'):\n"
        "    if '.train' not in m.name: importlib.import_module(m.name)\n"
    )
    mods = modules_after(code)
    assert not [m for m in UI if m in mods]
    assert not [m for m in HEAVY if m in mods]


def test_wizard_import_keeps_heavy_libraries_out():
    pytest.importorskip("tui_lora.tui.app")
    mods = modules_after("import tui_lora.tui.app")
    assert not [m for m in HEAVY if m in mods]


def test_every_wizard_screen_and_widget_keeps_heavy_libraries_out():
    # Screens are imported when first opened; none of them may pull in torch & co. either.
    code = (
        "import pkgutil, importlib, tui_lora.tui as t\n"
        "for m in pkgutil.walk_packages(t.__path__, 'tui_lora.tui.'): importlib.import_module(m.name)\n"
    )
    mods = modules_after(code)
    assert "tui_lora.tui.train.screen" in mods and "tui_lora.tui.steps.plan_view" in mods
    assert not [m for m in HEAVY if m in mods]


def test_wizard_logic_modules_need_no_ui_library():
    # The wizard's plain modules (run monitor, repeats) stay plain Python, like core/, and so do the
    # jobs calls the wizard makes in its own process: no torch until a trainer process starts.
    mods = modules_after("import tui_lora.tui.train.monitor, tui_lora.tui.steps.repeats, tui_lora.core.gpu, "
                         "tui_lora.core.jobs, tui_lora.tui.train.sweep_monitor, tui_lora.core.sweep.job, "
                         "tui_lora.core.sweep.plan, tui_lora.core.compare.variants")
    assert not [m for m in UI if m in mods]
    assert not [m for m in HEAVY if m in mods]


def test_compare_logic_modules_need_no_ui_library():
    # The Compare step's child runner, form checks and grid index reader are plain Python too.
    mods = modules_after("import tui_lora.tui.compare.compare_child, tui_lora.tui.compare.compare_form, "
                         "tui_lora.tui.compare.compare_grids")
    assert not [m for m in UI if m in mods]
    assert not [m for m in HEAVY if m in mods]


def test_product_code_never_imports_test_helpers():
    # The demo ships in tui_lora/demo/; what only tests use lives in tests/. Read from the source with ast,
    # so an import inside a function counts too.
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "tui_lora"
    test_only = ("tests", "support", "conftest", "wizard_support", "tui_lora.testing")
    bad = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            bad += [f"{path.relative_to(root.parent)}: {n}" for n in names
                    if any(n == t or n.startswith(t + ".") for t in test_only)]
    assert not bad, "product code imports test helpers:\n" + "\n".join(bad)
