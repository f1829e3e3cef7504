"""The README says what the code does: its commands, files, config keys and make targets exist."""

import re
from pathlib import Path

from dunkwatch.cli import synopsis
from dunkwatch.config import describe

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text()
CODE_SPANS = re.findall(r"`([^`\n]+)`", README) + re.findall(r"```[a-z]*\n(.*?)```", README, re.S)


def test_the_commands_block_is_dunkwatch_help():
    block = re.search(r"## Commands\n\n```\n(.*?)```", README, re.S)
    assert block, "README has no Commands block"
    assert block.group(1).strip() == synopsis(), "regenerate the Commands block from dunkwatch.cli.synopsis()"


def test_every_subcommand_is_explained_below_the_block():
    section = README.split("## Commands", 1)[1].split("\n## ", 1)[0]
    for line in synopsis().splitlines()[:-1]:
        name = line.split()[1]
        assert f"- `{name}`" in section or f"`{name}` " in section, f"the Commands section never explains {name}"


def test_every_file_the_readme_names_exists():
    named = set()  # paths inside the checkout; /opt/dunkwatch/… and ~/dunkwatch/… are install examples
    for span in CODE_SPANS:
        for word in re.findall(r"(?<![\w/~.-])(?:dunkwatch|bench|tests|systemd|docs|samples|\.ci)/[\w./-]*\w", span):
            named.add(word)
    missing = sorted(n for n in named if not (REPO / n).exists())
    assert named and not missing, f"the README names files that do not exist: {missing}"


def test_every_config_key_the_readme_names_exists():
    keys = {key for key, _, _ in describe()}
    sections = {key.split(".")[0] for key in keys}
    named = set()
    for span in CODE_SPANS:
        for section, key in re.findall(r"\b([a-z]+)\.([a-z_]+)\b", span):
            if section in sections and not span.startswith(("dunkwatch/", "bench/")) and key not in ("py", "toml"):
                named.add(f"{section}.{key}")
    unknown = sorted(named - keys)
    assert len(named) > 20 and not unknown, f"the README names config keys the code does not have: {unknown}"


def test_every_make_target_the_readme_names_exists():
    makefile = (REPO / "Makefile").read_text()
    targets = set(re.findall(r"^([\w-]+):", makefile, re.M))
    named = set(re.findall(r"\bmake ([a-z][\w-]*)", README))
    assert named and named <= targets, f"the README names make targets the Makefile lacks: {sorted(named - targets)}"
