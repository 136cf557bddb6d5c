"""kohya's sample prompt lines: options, defaults, fixed seeds, prompt files, and one-sentence errors."""

import pytest

from tui_lora.core.errors import UserError
from tui_lora.core.sample_prompts import (
    DEFAULT_CFG,
    DEFAULT_STEPS,
    SamplePrompt,
    load_sample_prompts,
    parse_prompt_line,
    parse_prompt_lines,
)


def test_every_kohya_option():
    sp = parse_prompt_line("1girl, ohwx, red hair --n lowres, bad hands --w 513 --h 768 --d 42 --l 6.5 --s 28 "
                           "--ss DPMsolver++")
    assert sp == SamplePrompt("1girl, ohwx, red hair", negative="lowres, bad hands", width=512, height=768, seed=42,
                              cfg=6.5, steps=28, sampler="dpmsolver++")


def test_options_in_any_order_and_case_and_dashes_inside_words():
    sp = parse_prompt_line("  a cat--dog, well-lit   --S 4 --N  ugly  --W 64 ")
    assert (sp.prompt, sp.negative, sp.steps, sp.width, sp.height) == ("a cat--dog, well-lit", "ugly", 4, 64, None)


def test_resolved_defaults_give_a_fixed_seed_per_position():
    a, b = parse_prompt_lines(["ohwx", "ohwx --d 7 --ss ddim"], source="sample.prompts")
    ra = a.resolved(index=0, base_seed=100, size=768, sampler="euler_a")
    rb = b.resolved(index=1, base_seed=100, size=768, sampler="euler_a")
    assert (ra.width, ra.height, ra.seed, ra.cfg, ra.steps, ra.sampler) == (768, 768, 100, DEFAULT_CFG,
                                                                             DEFAULT_STEPS, "euler_a")
    assert (rb.seed, rb.sampler) == (7, "ddim")
    assert parse_prompt_line("ohwx").resolved(index=3, base_seed=100, size=512, sampler="ddim").seed == 103


@pytest.mark.parametrize("line,words", [
    ("1girl --x 3", "--x is not a sample option; use --n negative"),
    ("1girl --cn control.png", "--cn is not a sample option"),
    ("--n lowres", "has no prompt text before its options"),
    ("1girl --w big", "--w 'big' is not a whole number"),
    ("1girl --h 32", "--h 32 is out of range; use 64 to 4096 pixels"),
    ("1girl --s 0", "--s 0 is out of range"),
    ("1girl --l seven", "--l 'seven' is not a number"),
    ("1girl --l 99", "--l 99 is not a CFG scale"),
    ("1girl --ss dpm++", "--ss dpm++ is not a known sampler"),
    ("1girl --d", "--d needs a value"),
])
def test_bad_lines_are_one_sentence_naming_the_line(line, words):
    with pytest.raises(UserError) as e:
        parse_prompt_lines(["ok prompt", line], source="prompts.txt")
    msg = e.value.message
    assert msg.startswith("prompts.txt line 2") and words in msg, msg
    assert "\n" not in msg and msg.endswith(".")


def test_project_prompts_then_the_prompt_file(tmp_path):
    (tmp_path / "prompts.txt").write_text("# comment\n\nfile one --s 5\n  # indented comment\nfile two\n",
                                          encoding="utf-8")
    prompts = load_sample_prompts(tmp_path, {"prompts": ["toml one", ""], "prompt_file": "prompts.txt"})
    assert [p.prompt for p in prompts] == ["toml one", "file one", "file two"]
    assert prompts[1].steps == 5
    with pytest.raises(UserError, match="sample prompt file .*missing.txt does not exist"):
        load_sample_prompts(tmp_path, {"prompts": [], "prompt_file": "missing.txt"})
    (tmp_path / "bad.txt").write_text("ok\nbad --q 1\n", encoding="utf-8")
    with pytest.raises(UserError, match="bad.txt line 2: --q is not a sample option"):
        load_sample_prompts(tmp_path, {"prompts": [], "prompt_file": str(tmp_path / "bad.txt")})


def test_prompt_file_is_a_project_setting_with_help(tmp_path):
    from tui_lora.core.settings import key

    k = key("sample.prompt_file")
    assert k.default == "" and "one per line" in k.help
