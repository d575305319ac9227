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


def test_help_reflows_multi_line_field_docstrings(capsys, monkeypatch):
    # Wide enough that nothing wraps: each field's docstring must then sit on one line, not
    # keep its source line breaks.
    monkeypatch.setenv("COLUMNS", "1000")
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    out = capsys.readouterr().out
    assert any("virtual views: the squared change of the rendered depth's slope from pixel" in line
               for line in out.splitlines())
