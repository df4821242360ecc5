"""A Sphinx directive that renders the ``pyampam`` command line reference from its own parser."""

from __future__ import annotations

import argparse

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective


def _walk(parser: argparse.ArgumentParser, path: list[str]) -> list[tuple[str, str]]:
    """Every (command path, help text) pair below ``parser``, depth first."""
    found = [(" ".join(path), parser.format_help())]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.extend(_walk(sub, [*path, name]))
    return found


class CliReference(SphinxDirective):
    """``.. cli-reference::`` emits one section per command with its ``--help`` text."""

    def run(self) -> list[nodes.Node]:
        """Build the sections from ``pyampam._cli.build_parser()``."""
        from pyampam._cli import build_parser

        result: list[nodes.Node] = []
        for command, text in _walk(build_parser(), ["pyampam"]):
            section = nodes.section(ids=[nodes.make_id(command)])
            section += nodes.title(text=command)
            section += nodes.literal_block(text, text)
            result.append(section)
        return result


def setup(app: Sphinx) -> dict[str, object]:
    """Register the directive."""
    app.add_directive("cli-reference", CliReference)
    return {"parallel_read_safe": True}
