"""A store in one SQLite file: the CLI's default, shared safely by several processes."""

# S608 flags SQL put together with f-strings. Here only this module's own table and column
# names are put together; every value goes through a "?" or ":name" placeholder.
# ruff: noqa: S608

from __future__ import annotations

import contextlib
import datetime as dt
import os
import pathlib
import sqlite3
import threading
import time
import uuid
from collections.abc import Collection, Iterator
from types import TracebackType

from pyampam._model import ActivationRequest, RequestStatus, Role, User
from pyampam.exceptions import (
    AlreadyExistsError,
    ConcurrentUpdateError,
    InvalidValueError,
    NotFoundError,
    StoreError,
)
from pyampam.store import _sqlite_codec as codec
from pyampam.store._arguments import check_instant, check_limit, check_statuses
from pyampam.store._sqlite_schema import migrate

__all__ = ["SqliteStore"]

# How many users one page of iter_users() reads; big enough that the per-query cost vanishes,
# small enough that 100k users never sit in memory at once.
_PAGE_SIZE = 500


def _insert(table: str, columns: tuple[str, ...]) -> str:
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) "
        f"VALUES ({', '.join(':' + column for column in columns)})"
    )


def _update(table: str, columns: tuple[str, ...]) -> str:
    key, *rest = columns
    return f"UPDATE {table} SET {', '.join(f'{c} = :{c}' for c in rest)} WHERE {key} = :{key}"


_SELECT_USERS = f"SELECT {', '.join(codec.USER_COLUMNS)} FROM users"
_INSERT_USER = _insert("users", codec.USER_COLUMNS)
_UPDATE_USER = _update("users", codec.USER_COLUMNS)
_USERS_PAGE = f"{_SELECT_USERS} WHERE object_id > ? ORDER BY object_id LIMIT ?"
_USER_WITH_ACCOUNT = (
    "SELECT object_id FROM users WHERE source_domain_folded = ? AND source_account_folded = ?"
)

_SELECT_ROLES = (
    f"SELECT {', '.join('r.' + column for column in codec.ROLE_COLUMNS)}, "
    "(SELECT group_concat(user_id, ',') FROM role_candidates AS c WHERE c.role_id = r.role_id)"
    " AS candidates, "
    "(SELECT group_concat(user_id, ',') FROM role_approvers AS a WHERE a.role_id = r.role_id)"
    " AS approvers "
    "FROM roles AS r"
)
_INSERT_ROLE = _insert("roles", codec.ROLE_COLUMNS)
_UPDATE_ROLE = _update("roles", codec.ROLE_COLUMNS)
# The queries without a leading underscore are also read by the tests, to check their plans.
ROLES_WITH_CANDIDATE = (
    f"{_SELECT_ROLES} WHERE r.role_id IN "
    "(SELECT role_id FROM role_candidates WHERE user_id = ?) ORDER BY r.display_name_folded"
)

_SELECT_REQUESTS = f"SELECT {', '.join(codec.REQUEST_COLUMNS)} FROM requests"
INSERT_REQUEST = _insert("requests", codec.REQUEST_COLUMNS)
_UPDATE_REQUEST = _update("requests", codec.REQUEST_COLUMNS) + " AND status = :expected_status"
REQUESTS_DUE = (
    f"{_SELECT_REQUESTS} WHERE status = ? AND due_at <= ? ORDER BY due_at, request_id LIMIT ?"
)
PURGE_REQUESTS = "DELETE FROM requests WHERE finished_at < ?"


def find_users_query(
    *, source_domain: str | None, source_account_name: str | None, display_name: str | None
) -> tuple[str, list[str]]:
    """The SQL and parameters of find_users; each filter has an index of its own."""
    conditions: list[str] = []
    values: list[str] = []
    for column, wanted in (
        ("source_domain_folded", source_domain),
        ("source_account_folded", source_account_name),
        ("display_name_folded", display_name),
    ):
        if wanted is not None:
            conditions.append(f"{column} = ?")
            values.append(codec.fold(wanted))
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    return f"{_SELECT_USERS}{where} ORDER BY source_domain_folded, source_account_name", values


def find_requests_query(
    *,
    requestor_id: uuid.UUID | None,
    role_id: uuid.UUID | None,
    statuses: Collection[RequestStatus] | None,
) -> tuple[str, list[str]]:
    """The SQL and parameters of find_requests; requestor and role have indexes in age order."""
    conditions: list[str] = []
    values: list[str] = []
    if requestor_id is not None:
        conditions.append("requestor_id = ?")
        values.append(str(requestor_id))
    if role_id is not None:
        conditions.append("role_id = ?")
        values.append(str(role_id))
    if statuses is not None:
        wanted = sorted(status.value for status in statuses)
        conditions.append(f"status IN ({', '.join('?' * len(wanted))})")
        values.extend(wanted)
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    return f"{_SELECT_REQUESTS}{where} ORDER BY created_at, request_id", values


# SQLite's primary result codes (the low byte of an extended code) that have a known remedy.
_BUSY, _LOCKED, _READONLY, _IOERR, _CORRUPT, _FULL, _CANTOPEN, _NOTADB = 5, 6, 8, 10, 11, 13, 14, 26
# Python 3.10 has no sqlite_errorcode; these are SQLite's fixed messages for the same codes.
_CODES_BY_MESSAGE = (
    ("database is locked", _BUSY),
    ("database table is locked", _LOCKED),
    ("readonly database", _READONLY),
    ("disk i/o error", _IOERR),
    ("malformed", _CORRUPT),
    ("database or disk is full", _FULL),
    ("unable to open database file", _CANTOPEN),
    ("file is not a database", _NOTADB),
)


def _primary_code(exc: sqlite3.Error) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF
    message = str(exc).lower()
    return next((code for text, code in _CODES_BY_MESSAGE if text in message), None)


def _fix(code: int | None, path: pathlib.Path, timeout: float) -> str:
    beside = f"SQLite keeps {path.name}-wal and {path.name}-shm beside it"
    fixes = {
        _BUSY: (
            f"another process kept it locked for more than {timeout:g} seconds; try again "
            "when it is done, or open the store with a longer timeout="
        ),
        _LOCKED: "another connection of this process holds it; try again",
        _READONLY: (
            f"it is read-only: make the file and its folder writable by this user ({beside}), "
            "or work on a writable copy"
        ),
        _IOERR: "the operating system could not read or write it; check the disk and the mount",
        _CORRUPT: (
            "the file is damaged: restore it from a backup, or rescue what is left with "
            "`sqlite3 <file> .recover`"
        ),
        _FULL: "the disk is full: free some space and try again",
        _CANTOPEN: (
            f"check that its folder exists and that this user may create files in it ({beside})"
        ),
        _NOTADB: (
            "it is not an SQLite database (or it is encrypted): check the path, or move the "
            "file away to start a new store there"
        ),
    }
    fallback = "check the file and its folder, or restore the store from a backup"
    return fallback if code is None else fixes.get(code, fallback)


def _os_fix(exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return "run as a user allowed to create files in its folder, or choose another folder"
    if isinstance(exc, FileNotFoundError):
        return "create its folder first, or check the path"
    return "check the path and its folder"


def _create_private(path: pathlib.Path) -> None:
    """Create the database file owner-only before SQLite opens it, unless it exists."""
    # SQLite would create it with the umask's mode (often world-readable), and the PINs are in
    # it. Its -wal and -shm files copy the database file's mode, so they are private too.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    try:
        descriptor = os.open(path, flags, 0o600)
    except FileExistsError:
        return
    except OSError as exc:
        raise StoreError(f"cannot create the store {path}: {exc.strerror}; {_os_fix(exc)}") from exc
    os.close(descriptor)


def _instant_argument(value: dt.datetime, field: str) -> int:
    """An aware datetime given by the caller, as the store's microseconds since the epoch."""
    check_instant(value, field)
    try:
        return codec.instant(value, field)
    except codec.UnstorableValueError as exc:
        raise InvalidValueError(str(exc), field=field) from exc


class SqliteStore:
    """A :class:`~pyampam.store.Store` in an SQLite file, the CLI's default.

    The file is created owner-only (``0600`` on POSIX) when it does not exist; an existing file
    keeps its permissions. It holds users' MFA PINs in clear (the PIN mode sends them to the
    provider, so they cannot be hashed): protect the file, its ``-wal`` and ``-shm`` companions
    and every backup like a file of secrets.

    Several processes may share the file. The journal is a write-ahead log (readers never wait
    for writers), every change is one ``BEGIN IMMEDIATE`` transaction (so the compare-and-set of
    :meth:`update_request` cannot interleave with another process's), and a process that finds
    the file locked waits up to ``timeout`` seconds before raising
    :class:`~pyampam.exceptions.StoreError`. ``synchronous=FULL``: a change is on disk once the
    call returns, so an approval or a closed request survives a power cut, at the cost of one
    flush per change.

    One store object may be used from many threads (the activation service records MFA
    outcomes from worker threads): it holds one connection behind a lock, so calls run one at a
    time within a process; each takes milliseconds. Do not carry a store across ``fork()``:
    open one in each process.

    Every failure of the file (missing folder, read-only, not a database, damaged, newer schema,
    locked too long) is a :class:`~pyampam.exceptions.StoreError` naming the path and the fix.
    Use it as a context manager, or call :meth:`close`.
    """

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 30.0) -> None:
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0:
            raise InvalidValueError(
                f"timeout must be a number of seconds, 0 or more, not {timeout!r}", field="timeout"
            )
        self._path = pathlib.Path(os.fspath(path))
        self._timeout = float(timeout)
        self._lock = threading.RLock()
        self._connection: sqlite3.Connection | None = self._open()

    @property
    def path(self) -> pathlib.Path:
        """The database file."""
        return self._path

    def _open(self) -> sqlite3.Connection:
        path = self._path
        if os.path.isdir(path):
            raise StoreError(
                f"{path} is a folder: give the path of a database file, such as "
                f"{path.absolute() / 'pyampam.db'}"
            )
        _create_private(path)
        # SQLite silently opens a file it may not write read-only and fails at the first
        # change; say so now, when the user can still pick another file.
        if not os.access(path, os.W_OK):
            raise StoreError(
                f"cannot open the store {path} for writing; {_fix(_READONLY, path, self._timeout)}"
            )
        # mode=rw: the file exists now; never let SQLite create one with the umask's mode.
        uri = path.absolute().as_uri() + "?mode=rw"
        try:
            connection = sqlite3.connect(
                uri,
                uri=True,
                timeout=self._timeout,
                # Autocommit: this class writes every BEGIN and COMMIT itself.
                isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            raise self._error("open", exc) from exc
        try:
            connection.row_factory = sqlite3.Row
            self._enter_wal(connection)
            connection.execute("PRAGMA synchronous = FULL")
            connection.execute("PRAGMA foreign_keys = ON")
            # A changed PIN must not linger in free pages of the file.
            connection.execute("PRAGMA secure_delete = ON")
            migrate(connection, str(path))
        except sqlite3.Error as exc:
            connection.close()
            raise self._error("open", exc) from exc
        except BaseException:
            connection.close()
            raise
        return connection

    def _enter_wal(self, connection: sqlite3.Connection) -> None:
        """Switch the file to WAL, waiting for other processes doing the same.

        Changing the journal mode of a new file needs it to itself, and SQLite answers "locked"
        at once, without its busy handler, while another process is opening the same new file;
        so this retries, with a short backoff, for up to the store's timeout.
        """
        deadline = time.monotonic() + self._timeout
        pause = 0.005
        while True:
            try:
                connection.execute("PRAGMA journal_mode = WAL")
            except sqlite3.OperationalError as exc:
                if _primary_code(exc) != _BUSY or time.monotonic() >= deadline:
                    raise
                time.sleep(pause)
                pause = min(pause * 2, 0.1)
            else:
                return

    def _error(self, action: str, exc: sqlite3.Error) -> StoreError:
        code = _primary_code(exc)
        return StoreError(
            f"cannot {action} the store {self._path} (SQLite: {exc}); "
            f"{_fix(code, self._path, self._timeout)}"
        )

    # -- sessions -------------------------------------------------------------------------------

    def _live_connection(self) -> sqlite3.Connection:
        if self._connection is None:
            raise StoreError(f"the store {self._path} is closed; open a new one")
        return self._connection

    @contextlib.contextmanager
    def _mapped_errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise self._error(action, exc) from exc
        except codec.UnstorableValueError as exc:
            raise StoreError(f"cannot {action} the store {self._path}: {exc}") from exc
        except codec.UnreadableRowError as exc:
            raise StoreError(
                f"cannot {action} the store {self._path}: it holds data this pyampam cannot "
                f"read ({exc}); restore the store from a backup, or remove that row"
            ) from exc
        except UnicodeEncodeError as exc:
            # Python text may hold lone surrogates; SQLite text is UTF-8 and cannot.
            raise StoreError(
                f"cannot {action} the store {self._path}: some text holds a character "
                f"that is not valid Unicode ({exc.reason}); remove it"
            ) from exc

    @contextlib.contextmanager
    def _reading(self, action: str) -> Iterator[sqlite3.Connection]:
        """One or more autocommitted reads; each statement sees a consistent snapshot."""
        with self._lock, self._mapped_errors(action):
            yield self._live_connection()

    @contextlib.contextmanager
    def _writing(self, action: str) -> Iterator[sqlite3.Connection]:
        """One transaction holding the write lock from its first read to its commit."""
        with self._lock, self._mapped_errors(action):
            connection = self._live_connection()
            # IMMEDIATE takes the write lock now: a deferred transaction that read first and
            # then wrote could fail with SQLITE_BUSY at once, without waiting out the timeout.
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
                connection.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    connection.execute("ROLLBACK")
                raise

    # -- users ----------------------------------------------------------------------------------

    def add_user(self, user: User) -> None:
        """Store a new user."""
        with self._writing(f"add user {user.source_identity} to") as connection:
            params = codec.user_params(user)
            if self._has(connection, "users", "object_id", user.object_id):
                raise AlreadyExistsError(f"a user with object id {user.object_id} already exists")
            if self._user_with_account(connection, user) is not None:
                raise AlreadyExistsError(
                    f"a user {user.source_identity} already exists; change that user instead"
                )
            connection.execute(_INSERT_USER, params)

    @staticmethod
    def _has(connection: sqlite3.Connection, table: str, key: str, value: uuid.UUID) -> bool:
        row = connection.execute(f"SELECT 1 FROM {table} WHERE {key} = ?", (str(value),))
        return row.fetchone() is not None

    @staticmethod
    def _user_with_account(connection: sqlite3.Connection, user: User) -> str | None:
        row = connection.execute(
            _USER_WITH_ACCOUNT,
            (codec.fold(user.source_domain), codec.fold(user.source_account_name)),
        ).fetchone()
        return None if row is None else str(row[0])

    def get_user(self, object_id: uuid.UUID) -> User:
        """The user with that object id."""
        with self._reading(f"read user {object_id} from") as connection:
            row = connection.execute(
                f"{_SELECT_USERS} WHERE object_id = ?", (str(object_id),)
            ).fetchone()
            if row is None:
                raise NotFoundError(f"no PAM user has object id {object_id}")
            return codec.user_from_row(row)

    def find_users(
        self,
        *,
        source_domain: str | None = None,
        source_account_name: str | None = None,
        display_name: str | None = None,
    ) -> list[User]:
        """Users matching every given field exactly (case-insensitively), in a stable order."""
        query, values = find_users_query(
            source_domain=source_domain,
            source_account_name=source_account_name,
            display_name=display_name,
        )
        with self._reading("find users in") as connection:
            rows = connection.execute(query, values).fetchall()
            return [codec.user_from_row(row) for row in rows]

    def iter_users(self) -> Iterator[User]:
        """Every user, in object id order, read a page at a time.

        Each page is its own short read, so a slow consumer never holds a read transaction
        open (which would keep the write-ahead log from being folded back into the file). The
        price: unlike :class:`~pyampam.store.MemoryStore`, this is not a snapshot. A user
        present throughout is seen exactly once; one added or removed meanwhile may or may not
        be. A closed store raises :class:`~pyampam.exceptions.StoreError` at the next page.
        """
        return self._more_users(self._users_after(""))

    def _users_after(self, object_id: str) -> list[User]:
        with self._reading("list users in") as connection:
            rows = connection.execute(_USERS_PAGE, (object_id, _PAGE_SIZE)).fetchall()
            return [codec.user_from_row(row) for row in rows]

    def _more_users(self, page: list[User]) -> Iterator[User]:
        while page:
            yield from page
            if len(page) < _PAGE_SIZE:
                return
            page = self._users_after(str(page[-1].object_id))

    def replace_user(self, user: User) -> None:
        """Replace the stored user with the same object id."""
        with self._writing(f"replace user {user.source_identity} in") as connection:
            params = codec.user_params(user)
            if not self._has(connection, "users", "object_id", user.object_id):
                raise NotFoundError(f"no PAM user has object id {user.object_id}")
            other = self._user_with_account(connection, user)
            if other is not None and other != str(user.object_id):
                raise AlreadyExistsError(f"another user is already {user.source_identity}")
            connection.execute(_UPDATE_USER, params)

    def remove_user(self, object_id: uuid.UUID) -> None:
        """Remove a user."""
        with self._writing(f"remove user {object_id} from") as connection:
            deleted = connection.execute("DELETE FROM users WHERE object_id = ?", (str(object_id),))
            if deleted.rowcount == 0:
                raise NotFoundError(f"no PAM user has object id {object_id}")

    # -- roles ----------------------------------------------------------------------------------

    def add_role(self, role: Role) -> None:
        """Store a new role."""
        with self._writing(f"add role {role.display_name!r} to") as connection:
            params = codec.role_params(role)
            if self._has(connection, "roles", "role_id", role.role_id):
                raise AlreadyExistsError(f"a role with id {role.role_id} already exists")
            if self._role_named(connection, role) is not None:
                raise AlreadyExistsError(
                    f"a role named {role.display_name!r} already exists; change that role "
                    "instead, or pick another name"
                )
            connection.execute(_INSERT_ROLE, params)
            self._insert_members(connection, role)

    @staticmethod
    def _role_named(connection: sqlite3.Connection, role: Role) -> str | None:
        row = connection.execute(
            "SELECT role_id FROM roles WHERE display_name_folded = ?",
            (codec.fold(role.display_name),),
        ).fetchone()
        return None if row is None else str(row[0])

    @staticmethod
    def _insert_members(connection: sqlite3.Connection, role: Role) -> None:
        role_id = str(role.role_id)
        for table, members in (
            ("role_candidates", role.candidates),
            ("role_approvers", role.approvers),
        ):
            connection.executemany(
                f"INSERT INTO {table} (role_id, user_id) VALUES (?, ?)",
                [(role_id, str(member)) for member in sorted(members)],
            )

    def get_role(self, role_id: uuid.UUID) -> Role:
        """The role with that id."""
        with self._reading(f"read role {role_id} from") as connection:
            row = connection.execute(
                f"{_SELECT_ROLES} WHERE r.role_id = ?", (str(role_id),)
            ).fetchone()
            if row is None:
                raise NotFoundError(f"no PAM role has id {role_id}")
            return codec.role_from_row(row)

    def find_roles(self, *, display_name: str | None = None) -> list[Role]:
        """Roles with that display name (case-insensitively), or all roles, in a stable order."""
        with self._reading("find roles in") as connection:
            if display_name is None:
                rows = connection.execute(
                    f"{_SELECT_ROLES} ORDER BY r.display_name_folded"
                ).fetchall()
            else:
                rows = connection.execute(
                    f"{_SELECT_ROLES} WHERE r.display_name_folded = ?",
                    (codec.fold(display_name),),
                ).fetchall()
            return [codec.role_from_row(row) for row in rows]

    def roles_with_candidate(self, user_id: uuid.UUID) -> list[Role]:
        """The roles the user is a candidate of, by display name."""
        with self._reading(f"find the roles of user {user_id} in") as connection:
            rows = connection.execute(ROLES_WITH_CANDIDATE, (str(user_id),)).fetchall()
            return [codec.role_from_row(row) for row in rows]

    def replace_role(self, role: Role) -> None:
        """Replace the stored role with the same id."""
        with self._writing(f"replace role {role.display_name!r} in") as connection:
            params = codec.role_params(role)
            if not self._has(connection, "roles", "role_id", role.role_id):
                raise NotFoundError(f"no PAM role has id {role.role_id}")
            other = self._role_named(connection, role)
            if other is not None and other != str(role.role_id):
                raise AlreadyExistsError(f"another role is named {role.display_name!r}")
            connection.execute(_UPDATE_ROLE, params)
            for table in ("role_candidates", "role_approvers"):
                connection.execute(f"DELETE FROM {table} WHERE role_id = ?", (str(role.role_id),))
            self._insert_members(connection, role)

    def remove_role(self, role_id: uuid.UUID) -> None:
        """Remove a role."""
        with self._writing(f"remove role {role_id} from") as connection:
            # Its candidates and approvers go with it: ON DELETE CASCADE.
            deleted = connection.execute("DELETE FROM roles WHERE role_id = ?", (str(role_id),))
            if deleted.rowcount == 0:
                raise NotFoundError(f"no PAM role has id {role_id}")

    # -- requests -------------------------------------------------------------------------------

    def add_request(self, request: ActivationRequest) -> None:
        """Store a new request."""
        with self._writing(f"add request {request.request_id} to") as connection:
            params = codec.request_params(request)
            if self._has(connection, "requests", "request_id", request.request_id):
                raise AlreadyExistsError(f"a request with id {request.request_id} already exists")
            connection.execute(INSERT_REQUEST, params)

    def get_request(self, request_id: uuid.UUID) -> ActivationRequest:
        """The request with that id."""
        with self._reading(f"read request {request_id} from") as connection:
            row = connection.execute(
                f"{_SELECT_REQUESTS} WHERE request_id = ?", (str(request_id),)
            ).fetchone()
            if row is None:
                raise NotFoundError(f"no activation request has id {request_id}")
            return codec.request_from_row(row)

    def update_request(self, request: ActivationRequest, *, expected_status: RequestStatus) -> None:
        """Replace a stored request, only if its stored status is still ``expected_status``.

        Raises :class:`~pyampam.exceptions.ConcurrentUpdateError` otherwise, also when the
        other writer is another process.
        """
        with self._writing(f"update request {request.request_id} in") as connection:
            params = codec.request_params(request)
            params["expected_status"] = expected_status.value
            if connection.execute(_UPDATE_REQUEST, params).rowcount == 1:
                return
            row = connection.execute(
                "SELECT status FROM requests WHERE request_id = ?", (str(request.request_id),)
            ).fetchone()
            if row is None:
                raise NotFoundError(f"no activation request has id {request.request_id}")
            raise ConcurrentUpdateError(
                f"request {request.request_id} is {row[0]}, not {expected_status}: "
                "someone else changed it; read it again"
            )

    def find_requests(
        self,
        *,
        requestor_id: uuid.UUID | None = None,
        role_id: uuid.UUID | None = None,
        statuses: Collection[RequestStatus] | None = None,
    ) -> list[ActivationRequest]:
        """Requests matching every given filter, oldest first."""
        query, values = find_requests_query(
            requestor_id=requestor_id, role_id=role_id, statuses=check_statuses(statuses)
        )
        with self._reading("find requests in") as connection:
            rows = connection.execute(query, values).fetchall()
            return [codec.request_from_row(row) for row in rows]

    def requests_due(
        self, status: RequestStatus, *, before: dt.datetime, limit: int | None = None
    ) -> list[ActivationRequest]:
        """Requests in ``status`` whose due time is at or before ``before``, earliest first.

        Reads the ``(status, due_at)`` index: the cost grows with the result, not the table.
        """
        check_limit(limit)
        due = _instant_argument(before, "before")
        with self._reading(f"find {status} requests due in") as connection:
            rows = connection.execute(
                REQUESTS_DUE, (status.value, due, -1 if limit is None else limit)
            ).fetchall()
            return [codec.request_from_row(row) for row in rows]

    def purge_requests(self, *, finished_before: dt.datetime) -> int:
        """Delete finished requests (Closed, Expired, Rejected) that ended before the time."""
        cutoff = _instant_argument(finished_before, "finished_before")
        with self._writing("purge finished requests from") as connection:
            deleted: int = connection.execute(PURGE_REQUESTS, (cutoff,)).rowcount
            return deleted

    # -- life cycle -----------------------------------------------------------------------------

    def close(self) -> None:
        """Close the file; further calls raise StoreError. Closing twice is harmless."""
        with self._lock:
            connection, self._connection = self._connection, None
            if connection is not None:
                with self._mapped_errors("close"):
                    connection.close()

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        with self._lock:
            if self._connection is None:
                return f"SqliteStore({str(self._path)!r}, closed)"
            try:
                users, roles, requests = self._connection.execute(
                    "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM roles), "
                    "(SELECT count(*) FROM requests)"
                ).fetchone()
            except sqlite3.Error:
                return f"SqliteStore({str(self._path)!r}, counts unavailable)"
        return (
            f"SqliteStore({str(self._path)!r}, users={users}, roles={roles}, requests={requests})"
        )
