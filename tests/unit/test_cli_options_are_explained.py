"""Every option of every `conveyor` command says in `--help` what it does."""

from __future__ import annotations

import click

from conveyor.cli import main


def options_of(command: click.Command, path: str) -> list[tuple[str, click.Option]]:
    if isinstance(command, click.Group):
        return [
            found
            for name, sub in command.commands.items()
            for found in options_of(sub, f"{path} {name}")
        ]
    return [(path, p) for p in command.params if isinstance(p, click.Option)]


def test_every_option_has_help_text() -> None:
    every = options_of(main, "conveyor")
    unexplained = [f"{path} {option.opts[0]}" for path, option in every if not option.help]

    assert len(every) > 40, "the walk found the commands' options"
    assert unexplained == []
