"""Concept folders: kohya's dataset/<N>_<name>/ names, and picking one to fill by name."""

import pytest

from tui_lora.core.dataset.folders import concept_folder_for, concept_folder_name, parse_concept_folder
from tui_lora.core.errors import UserError


def test_parse_and_build_folder_names():
    assert parse_concept_folder("10_mia") == (10, "mia")
    assert parse_concept_folder("3_two words") == (3, "two words")
    assert parse_concept_folder("mia") is None
    assert concept_folder_name(4, "mia") == "4_mia"


def test_a_folder_is_found_by_folder_or_concept_name_and_made_only_when_asked(make_project):
    project = make_project(images=1, trigger="mia")
    existing = project.concepts()[0]
    assert concept_folder_for(project, existing.folder, create=False) == existing.path
    assert concept_folder_for(project, f" {existing.name} ", create=False) == existing.path
    new = concept_folder_for(project, "5_extra", create=False)
    assert new == project.dataset_dir / "5_extra" and not new.exists()
    assert concept_folder_for(project, "5_extra", create=True).is_dir()


@pytest.mark.parametrize("bad, words", [("../x", "is not a folder name"), (".hidden", "is not a folder name"),
                                        ("", "is not a folder name"), ("marisa", "must look like <repeats>_<name>")])
def test_bad_folder_names_are_one_sentence(make_project, bad, words):
    project = make_project(images=0)
    before = sorted(p.name for p in project.dataset_dir.iterdir())
    with pytest.raises(UserError, match=words):
        concept_folder_for(project, bad, create=True)
    assert sorted(p.name for p in project.dataset_dir.iterdir()) == before
