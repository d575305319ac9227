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
    lines = out.splitlines()
    assert any("virtual views: the squared change of the rendered depth's slope from pixel" in line
               for line in lines)
    # continuation lines that start with a backquote or a parenthesis join too
    assert any("axis ratios above ``needle_max_ratio``. Sparse views" in line for line in lines)
    assert any("the silhouette (means and opacities learn from it" in line for line in lines)
    # so do the descriptions of the option groups (a line starting with ">=" too)
    assert any("Learning rates are > 0; weights are >= 0, and a weight of 0" in line
               for line in lines)


def test_docstring_lines_join_into_paragraphs_but_keep_lists_and_examples():
    from splatsynth.cli import _join_lines

    text = """First line
    (continued) and ``more``.

    - item one
      still item one
    - item two

        indented example
    last"""
    assert _join_lines(text) == ("First line (continued) and ``more``.\n\n- item one\n"
                                 "  still item one\n- item two\n\n    indented example\nlast")
