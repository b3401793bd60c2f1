"""The README and the docs say what the code does: commands, configuration variables, links."""

from __future__ import annotations

import os
import re
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
README = (PROJECT / "README.md").read_text()


def test_the_readmes_first_code_block_holds_the_two_commands():
    first_block = re.search(r"```[a-z]*\n(.*?)```", README, re.DOTALL)

    assert first_block is not None
    assert first_block.group(1).split("\n")[:-1] == ["make run", "make test"]


def test_the_two_commands_and_ci_exist():
    makefile = (PROJECT / "Makefile").read_text()
    ci = PROJECT / ".ci" / "run"

    assert re.search(r"^run: ", makefile, re.MULTILINE)
    assert re.search(r"^test: ", makefile, re.MULTILINE)
    assert os.access(ci, os.X_OK)
    assert "make test" in ci.read_text()


def test_every_environment_variable_of_the_settings_is_documented():
    configuration = (PROJECT / "docs" / "configuration.md").read_text()
    read = set()
    for module in (PROJECT / "src" / "mairie" / "settings").glob("*.py"):
        read |= set(re.findall(r"env_\w+\(\s*\"(MAIRIE_\w+)\"", module.read_text()))

    assert read, "no variable found: has the settings' helper been renamed?"
    assert sorted(name for name in read if f"`{name}`" not in configuration) == []


def test_relative_links_and_images_of_the_docs_lead_somewhere():
    broken = []
    for document in [PROJECT / "README.md", *sorted((PROJECT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", document.read_text()):
            if "://" in target or target.startswith("mailto:"):
                continue
            if not (document.parent / target).exists():
                broken.append(f"{document.relative_to(PROJECT)} → {target}")

    assert broken == []
