"""Where the CLI keeps its data, and the service it opens over it: store, event log, provider."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from pyampam._cli import _values
from pyampam.exceptions import ClientCertificateError, StoreError

if TYPE_CHECKING:
    from pyampam.activation import PamService
    from pyampam.providers import MfaProvider

__all__ = [
    "DB_ENVIRONMENT_VARIABLE",
    "DB_FILE_NAME",
    "STORE_PARENT",
    "add_mfa_options",
    "add_store_options",
    "database_path",
    "default_data_dir",
    "events_path",
    "open_service",
    "prepare_folder",
    "usage_error",
]

DB_ENVIRONMENT_VARIABLE = "PYAMPAM_DB"
DB_FILE_NAME = "pyampam.db"
_PRIVATE_FOLDER_MODE = 0o700


def default_data_dir(
    *, platform: str | None = None, environ: Mapping[str, str] | None = None
) -> Path:
    r"""The folder pyampam keeps its database in when neither ``--db`` nor the environment says.

    Linux and other POSIX systems: ``$XDG_DATA_HOME/pyampam`` (an absolute ``XDG_DATA_HOME``
    only, as the XDG specification says), else ``~/.local/share/pyampam``. macOS:
    ``~/Library/Application Support/pyampam``. Windows: ``%LOCALAPPDATA%\pyampam``.
    """
    platform = sys.platform if platform is None else platform
    environ = os.environ if environ is None else environ
    if platform.startswith(("win32", "cygwin")):
        local = environ.get("LOCALAPPDATA", "")
        base = Path(local) if local else _home(environ) / "AppData" / "Local"
    elif platform == "darwin":
        base = _home(environ) / "Library" / "Application Support"
    else:
        xdg = environ.get("XDG_DATA_HOME", "")
        base = Path(xdg) if xdg and os.path.isabs(xdg) else _home(environ) / ".local" / "share"
    return base / "pyampam"


def _home(environ: Mapping[str, str]) -> Path:
    home = environ.get("HOME") or environ.get("USERPROFILE")
    if home:
        return Path(home)
    try:
        return Path.home()
    except RuntimeError:  # no HOME and no password database entry: a bare container
        raise StoreError(
            "cannot tell where your home folder is, so there is no default database; give "
            f"--db PATH or set {DB_ENVIRONMENT_VARIABLE}"
        ) from None


def database_path(args: argparse.Namespace) -> Path:
    """The database file: ``--db``, else ``$PYAMPAM_DB``, else the default data folder's."""
    given: str | None = getattr(args, "db", None)
    if given:
        return Path(given)
    from_environment = os.environ.get(DB_ENVIRONMENT_VARIABLE, "")
    if from_environment:
        return Path(from_environment)
    return default_data_dir() / DB_FILE_NAME


def events_path(database: Path) -> Path:
    """The JSON Lines event file kept beside *database*: ``<stem>.events.jsonl``."""
    return database.with_name(f"{database.stem}.events.jsonl")


def prepare_folder(folder: Path) -> None:
    """Create *folder* (and its missing parents) owner-only; an existing folder is left alone."""
    if folder.is_dir():
        return
    try:
        # Only the last folder gets the mode; parents such as ~/.local/share get the usual one.
        os.makedirs(folder, mode=_PRIVATE_FOLDER_MODE, exist_ok=True)
        if os.name == "posix":
            folder.chmod(_PRIVATE_FOLDER_MODE)  # an odd umask may have taken the owner's bits
    except OSError as error:
        raise StoreError(
            f"cannot create the folder {folder} for the database: "
            f"{error.strerror or type(error).__name__}; give --db with a writable path"
        ) from error


def usage_error(args: argparse.Namespace, message: str) -> NoReturn:
    """Stop with a usage error (exit status 2) from the parser of the command being run."""
    parser: argparse.ArgumentParser = args.command_parser
    parser.error(message)


def _store_parent() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    add_store_options(parent, suppress=True)
    return parent


def add_store_options(parser: argparse.ArgumentParser, *, suppress: bool = False) -> None:
    """Add ``--db``; with ``suppress`` it leaves the top-level value alone when not given."""
    parser.add_argument(
        "--db",
        metavar="PATH",
        type=_values.path_argument,
        default=argparse.SUPPRESS if suppress else None,
        help=(
            f"the database file (default: ${DB_ENVIRONMENT_VARIABLE}, else pyampam.db in the "
            "user's data folder); events go to <name>.events.jsonl beside it"
        ),
    )


def add_mfa_options(parser: argparse.ArgumentParser, *, suppress: bool = False) -> None:
    """Add the options choosing the MFA provider: ``--mfa-settings`` or ``--fake-mfa``."""
    default = argparse.SUPPRESS if suppress else None
    group = parser.add_argument_group("MFA provider")
    choice = group.add_mutually_exclusive_group()
    choice.add_argument(
        "--mfa-settings",
        metavar="FILE",
        type=_values.path_argument,
        default=default,
        help="place MFA calls with the Azure MFA SDK credentials of this MfaSettings.xml",
    )
    choice.add_argument(
        "--fake-mfa",
        metavar="OUTCOME",
        type=_values.call_result,
        default=default,
        help=(
            "place no real call: every call ends with this usage-report outcome, "
            "e.g. SUCCESS_NO_PIN or SUCCESS_NO_PIN_BUT_TIMEOUT (any case)"
        ),
    )
    group.add_argument(
        "--mfa-cert",
        metavar="P12",
        type=_values.path_argument,
        default=default,
        help="a local copy of cert_key.p12, when the settings' CertFilePath is a Windows path",
    )
    group.add_argument(
        "--mfa-mode",
        type=_values.auth_mode,
        default=default,
        metavar="MODE",
        help="the mode of every call: standard (default), pin, sms_two_way_otp, ...",
    )


#: Give as ``parents=[STORE_PARENT]`` to every command that opens the database.
STORE_PARENT = _store_parent()


def _check_mfa_options(args: argparse.Namespace) -> None:
    settings_file = getattr(args, "mfa_settings", None)
    if getattr(args, "mfa_cert", None) is not None and settings_file is None:
        usage_error(args, "--mfa-cert goes with --mfa-settings FILE")
    if getattr(args, "fake_mfa", None) is not None and settings_file is not None:
        # Each parser keeps them apart; given one before the command and one after, they meet.
        usage_error(args, "give --mfa-settings or --fake-mfa, not both")


def _provider(args: argparse.Namespace, stack: contextlib.ExitStack) -> tuple[Any, int]:
    """The provider the options ask for (or None) and the default country code to use."""
    outcome = getattr(args, "fake_mfa", None)
    settings_file = getattr(args, "mfa_settings", None)
    certificate = getattr(args, "mfa_cert", None)
    if outcome is not None:
        from pyampam.testing import FakeProvider

        return FakeProvider(default=outcome), 1
    if settings_file is None:
        return None, 1
    from pyampam.providers import PhoneFactorClient
    from pyampam.settings import read_mfa_settings

    settings = read_mfa_settings(settings_file)
    if certificate is not None:
        client = PhoneFactorClient.from_settings(settings, certificate=certificate)
    else:
        try:
            client = PhoneFactorClient.from_settings(settings)
        except ClientCertificateError as error:
            if settings.cert_file_path and os.path.exists(settings.cert_file_path):
                raise  # the file is here: its password or content is at fault
            # MfaSettings.xml names the certificate as the MIM server sees it, often a Windows
            # path; the remedy on this machine is an option, not a keyword argument.
            raise ClientCertificateError(
                f"cannot use the CertFilePath of {settings_file} here "
                f"({settings.cert_file_path!r}): give --mfa-cert with a local copy of "
                "cert_key.p12"
            ) from error
    stack.callback(client.close)
    country = settings.default_country_code
    return client, 1 if country is None else country


@contextlib.contextmanager
def open_service(args: argparse.Namespace, *, with_provider: bool = False) -> Iterator[PamService]:
    """The service over the database the options name, closed (store, log, provider) after use.

    Events go to memory and to the JSON Lines file beside the database.
    """
    from pyampam.activation import PamService
    from pyampam.events import EventLog, JsonLinesSink
    from pyampam.providers import AuthMode
    from pyampam.store import SqliteStore

    if with_provider:
        _check_mfa_options(args)
    path = database_path(args)
    prepare_folder(path.parent)
    with contextlib.ExitStack() as stack:
        store = stack.enter_context(SqliteStore(path))
        log = stack.enter_context(EventLog(JsonLinesSink(events_path(path))))
        provider: MfaProvider | None = None
        country = 1
        if with_provider:
            provider, country = _provider(args, stack)
        mode = getattr(args, "mfa_mode", None) or AuthMode.STANDARD
        service = PamService(
            store=store,
            event_log=log,
            provider=provider,
            default_country_code=country,
            mfa_mode=mode,
        )
        # Entered last, so it shuts down (its MFA waits end) before the log and store close.
        yield stack.enter_context(service)
