"""The SQLite store's schema: its versions, and the forward migrations between them.

The schema version lives in ``PRAGMA user_version``; ``PRAGMA application_id`` marks the file as
a pyampam store, so pyampam never adds its tables to somebody else's database. Migration *n*
(``MIGRATIONS[n - 1]``) takes a file from version *n - 1* to *n*; a new schema version is one
function appended to :data:`MIGRATIONS`, never an edit of an old one. All pending migrations and
the version bump run in one ``BEGIN IMMEDIATE`` transaction (SQLite's DDL is transactional), so
a crash leaves the old version and two processes opening the same file never both migrate it.

Version 1 columns, beyond the obvious ones:

- ``*_folded``: the :meth:`str.casefold` of a name, compared for case-insensitive lookups and
  kept unique where the protocol forbids duplicates (``DOMAIN\\account``, role display names).
- ``*_at``: an instant, integer microseconds since 1970-01-01 UTC; ``*_us``: a duration in
  microseconds; times of day as text (see :mod:`pyampam.store._sqlite_codec`).
- ``requests.due_at``: the expiration time of an Active request, the requested start of a
  Scheduled one, NULL otherwise; indexed with the status so finding due requests reads only them.
- ``requests.finished_at``: when a Closed, Expired or Rejected request ended, NULL otherwise;
  indexed so purging reads only what it deletes.
- ``roles.privileges``: a JSON list of group names, in order; candidates and approvers are child
  tables indexed by user, because the service asks "which roles may this user request?".
- ``users.pin``: the user's MFA PIN, in clear, because PIN mode sends it to the provider. The
  file is created readable by its owner only; protect it and its backups as secrets.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable

from pyampam.exceptions import StoreError

__all__ = ["APPLICATION_ID", "MIGRATIONS", "Migration", "migrate"]

Migration = Callable[[sqlite3.Connection], None]

# "pPAM" in ASCII: SQLite's application id is a free 32-bit tag for the file's owner.
APPLICATION_ID = 0x7050414D

_VERSION_1 = (
    """
    CREATE TABLE users (
        object_id TEXT PRIMARY KEY NOT NULL,
        source_domain TEXT NOT NULL,
        source_domain_folded TEXT NOT NULL,
        source_account_name TEXT NOT NULL,
        source_account_folded TEXT NOT NULL,
        display_name TEXT,
        display_name_folded TEXT,
        description TEXT,
        email TEXT,
        sid TEXT,
        phone_country_code INTEGER,
        phone_national_number TEXT,
        phone_extension TEXT,
        pin TEXT,
        privileged_account_name TEXT NOT NULL,
        privileged_display_name TEXT,
        privileged_account_active INTEGER NOT NULL CHECK (privileged_account_active IN (0, 1)),
        CHECK ((phone_country_code IS NULL) = (phone_national_number IS NULL))
    )
    """,
    """
    CREATE UNIQUE INDEX users_by_source_identity
        ON users (source_domain_folded, source_account_folded)
    """,
    "CREATE INDEX users_by_account ON users (source_account_folded)",
    "CREATE INDEX users_by_display_name ON users (display_name_folded)",
    """
    CREATE TABLE roles (
        role_id TEXT PRIMARY KEY NOT NULL,
        display_name TEXT NOT NULL,
        display_name_folded TEXT NOT NULL,
        description TEXT,
        privileges TEXT NOT NULL,
        ttl_us INTEGER NOT NULL CHECK (ttl_us > 0),
        availability_window_enabled INTEGER NOT NULL,
        available_from TEXT,
        available_to TEXT,
        mfa_enabled INTEGER NOT NULL,
        approval_enabled INTEGER NOT NULL
    )
    """,
    "CREATE UNIQUE INDEX roles_by_display_name ON roles (display_name_folded)",
    """
    CREATE TABLE role_candidates (
        role_id TEXT NOT NULL REFERENCES roles (role_id) ON DELETE CASCADE,
        user_id TEXT NOT NULL,
        PRIMARY KEY (role_id, user_id)
    ) WITHOUT ROWID
    """,
    "CREATE INDEX role_candidates_by_user ON role_candidates (user_id)",
    """
    CREATE TABLE role_approvers (
        role_id TEXT NOT NULL REFERENCES roles (role_id) ON DELETE CASCADE,
        user_id TEXT NOT NULL,
        PRIMARY KEY (role_id, user_id)
    ) WITHOUT ROWID
    """,
    "CREATE INDEX role_approvers_by_user ON role_approvers (user_id)",
    """
    CREATE TABLE requests (
        request_id TEXT PRIMARY KEY NOT NULL,
        requestor_id TEXT NOT NULL,
        role_id TEXT NOT NULL,
        justification TEXT NOT NULL,
        requested_ttl_us INTEGER NOT NULL CHECK (requested_ttl_us > 0),
        requested_at INTEGER,
        created_at INTEGER NOT NULL,
        creation_method TEXT NOT NULL,
        expires_at INTEGER,
        status TEXT NOT NULL,
        activated_at INTEGER,
        decided_by TEXT,
        mfa_call_id TEXT,
        status_reason TEXT NOT NULL,
        due_at INTEGER,
        finished_at INTEGER
    )
    """,
    "CREATE INDEX requests_due ON requests (status, due_at, request_id)",
    "CREATE INDEX requests_by_creation ON requests (created_at, request_id)",
    "CREATE INDEX requests_by_requestor ON requests (requestor_id, created_at, request_id)",
    "CREATE INDEX requests_by_role ON requests (role_id, created_at, request_id)",
    """
    CREATE INDEX requests_finished ON requests (finished_at) WHERE finished_at IS NOT NULL
    """,
)


def _create_version_1(connection: sqlite3.Connection) -> None:
    # One execute() per statement: executescript() would COMMIT the migration's transaction.
    for statement in _VERSION_1:
        connection.execute(statement)


MIGRATIONS: list[Migration] = [_create_version_1]
"""The forward migrations, in order; the schema version the code writes is their count."""


def _not_a_store(path: str) -> StoreError:
    return StoreError(
        f"{path} is an SQLite database of another program, not a pyampam store; "
        "give the path of a pyampam store, or of a file that does not exist yet"
    )


def _check(connection: sqlite3.Connection, path: str, latest: int) -> int:
    """The file's schema version, once it is known to be a pyampam store this code can use."""
    version: int = connection.execute("PRAGMA user_version").fetchone()[0]
    application_id: int = connection.execute("PRAGMA application_id").fetchone()[0]
    if application_id not in (0, APPLICATION_ID):
        raise _not_a_store(path)
    if version > latest:
        raise StoreError(
            f"{path} has schema version {version}, written by a newer pyampam; this one "
            f"knows versions up to {latest}: upgrade pyampam (pip install -U pyampam)"
        )
    if version == 0:
        if connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
            raise _not_a_store(path)
    elif application_id != APPLICATION_ID:
        raise _not_a_store(path)
    return version


def migrate(connection: sqlite3.Connection, path: str) -> None:
    """Bring the database up to the latest schema version, or refuse a file it cannot use.

    Raises :class:`~pyampam.exceptions.StoreError` for a file written by a newer pyampam or by
    another program; SQLite's own errors propagate for the caller to map.
    """
    # Read at call time, so a test can register a later migration.
    migrations = list(MIGRATIONS)
    latest = len(migrations)
    # An up-to-date file, the common case, is opened without waiting for the write lock.
    if _check(connection, path, latest) == latest:
        return
    connection.execute("BEGIN IMMEDIATE")
    try:
        # Again under the lock: another process may have migrated the file meanwhile.
        version = _check(connection, path, latest)
        for migration in migrations[version:]:
            migration(connection)
        if version < latest:
            # PRAGMA takes no parameters; both values are integers this module controls.
            connection.execute(f"PRAGMA user_version = {latest:d}")
            connection.execute(f"PRAGMA application_id = {APPLICATION_ID:d}")
        connection.execute("COMMIT")
    except BaseException:
        # A failed ROLLBACK must not hide the error that caused it.
        with contextlib.suppress(sqlite3.Error):
            connection.execute("ROLLBACK")
        raise
