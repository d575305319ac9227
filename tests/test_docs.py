"""Every CLI command is documented in the README, and every --help works."""

import re
from pathlib import Path

import pytest

from splatsynth.cli import COMMANDS, main

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_command_in_readme(name):
    assert re.search(rf"`splatsynth {name}\b", README), f"README lacks `splatsynth {name}`"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_help_exits_zero_and_documents_options(name, capsys):
    with pytest.raises(SystemExit) as e:
        main([name, "--help"])
    assert e.value.code == 0
    assert "usage: splatsynth " + name in capsys.readouterr().out


def test_readme_opens_with_the_two_commands():
    head = README.split("## ")[0]
    assert "make demo" in head and "make test" in head
