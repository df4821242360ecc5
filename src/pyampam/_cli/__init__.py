"""The ``pyampam`` command line: argument parsing, error reporting and exit codes.

Exit codes: 0 success, 1 a check failed or pyampam refused the input, 2 a usage error,
130 interrupted. Errors print one line on stderr; ``--debug`` adds the traceback.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence
from typing import NoReturn

from pyampam._cli import _context, _demo, _pam_cmds, _report, _rest, _settings_cmds
from pyampam.exceptions import PyampamError

__all__ = ["build_parser", "main"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line and exit with status 2."""

    def error(self, message: str) -> NoReturn:
        shown = _printable(message)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {shown} (see '{self.prog} --help')\n")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pyampam")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    """Build the full ``pyampam`` argument parser (the CLI reference is generated from it)."""
    parser = _Parser(
        prog="pyampam",
        description="Privileged role activation with phone-based MFA, after MIM 2016 PAM.",
        # Abbreviations would make the top level claim a subcommand's own options: it would
        # call `role new --mfa` ambiguous between --mfa-settings, --mfa-cert and --mfa-mode.
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    parser.add_argument(
        "--debug", action="store_true", help="show the full traceback when something fails"
    )
    _context.add_store_options(parser)
    _context.add_mfa_options(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True
    _demo.register(commands)
    _pam_cmds.register(commands)
    _settings_cmds.register(commands)
    _report.register(commands)
    _rest.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
    except PyampamError as error:
        if args.debug:
            traceback.print_exc()
        print(f"pyampam: error: {_one_line(str(error))}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("pyampam: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`pyampam events | head`): not an error worth a traceback.
        _silence_stdout()
        return EXIT_FAILED
    return code


def _printable(text: str) -> str:
    """*text* with control characters escaped, so an echoed argument cannot break the line."""
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def _one_line(message: str) -> str:
    """A message that lists its problems one per line, as one line: scripts read one line."""
    lines = [line.strip() for line in message.split("\n") if line.strip()]
    if len(lines) <= 1:
        return _printable(message.strip())
    items = "; ".join(line.removeprefix("- ") for line in lines[1:])
    joined = f"{lines[0]} {items}" if lines[0].endswith(":") else f"{lines[0]}; {items}"
    return _printable(joined)


def _silence_stdout() -> None:
    """Point stdout at the null device, so flushing it at exit does not fail again."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is no real file (a test's StringIO): nothing to do
        pass
