"""The SQLite store beyond the contract: its file, schema, indexes, concurrency and failures."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import os
import pathlib
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyampam import ActivationRequest, PhoneNumber, RequestStatus, Role, User
from pyampam.exceptions import (
    ConcurrentUpdateError,
    InvalidValueError,
    PyampamError,
    StoreError,
)
from pyampam.store import MemoryStore, SqliteStore, Store, _sqlite, _sqlite_codec, _sqlite_schema

UTC = dt.timezone.utc
T0 = dt.datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
HOUR = dt.timedelta(hours=1)
CHILD = pathlib.Path(__file__).with_name("store_child.py")
POSIX = os.name == "posix"
NOBODY = 65534


@pytest.fixture
def path(tmp_path: pathlib.Path) -> pathlib.Path:
    return tmp_path / "pyampam.db"


@pytest.fixture
def store(path: pathlib.Path) -> Iterator[SqliteStore]:
    with SqliteStore(path) as opened:
        yield opened


@contextlib.contextmanager
def raw(path: pathlib.Path, timeout: float = 5.0) -> Iterator[sqlite3.Connection]:
    """A plain sqlite3 connection to the store's file, in autocommit mode, closed afterwards."""
    with contextlib.closing(
        sqlite3.connect(path, timeout=timeout, isolation_level=None)
    ) as connection:
        yield connection


def make_user(account: str = "jen", **fields: object) -> User:
    return User(source_domain="CONTOSO", source_account_name=account, **fields)  # type: ignore[arg-type]


def make_request(**fields: object) -> ActivationRequest:
    fields.setdefault("requestor_id", uuid.uuid4())
    fields.setdefault("role_id", uuid.uuid4())
    fields.setdefault("requested_ttl", HOUR)
    fields.setdefault("creation_time", T0)
    return ActivationRequest(**fields)  # type: ignore[arg-type]


def child(*args: str, **options: object) -> subprocess.Popen[str]:
    """Start tests/store_child.py in another Python process."""
    return subprocess.Popen(  # type: ignore[call-overload,no-any-return]
        [sys.executable, str(CHILD), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **options,
    )


# --- the file ------------------------------------------------------------------------------------


@pytest.mark.skipif(not POSIX, reason="file modes are POSIX")
def test_new_file_is_owner_only(path: pathlib.Path) -> None:
    """The database and its -wal and -shm files are 0600 even under a permissive umask."""
    previous = os.umask(0)
    try:
        with SqliteStore(path) as store:
            store.add_user(make_user(pin="1234"))
            modes = {
                name: os.stat(f"{path}{name}").st_mode & 0o777 for name in ("", "-wal", "-shm")
            }
    finally:
        os.umask(previous)
    assert modes == {"": 0o600, "-wal": 0o600, "-shm": 0o600}


def test_empty_file_becomes_a_store(path: pathlib.Path) -> None:
    """An existing empty file is a new store, not an error."""
    path.touch()
    with SqliteStore(path) as store:
        store.add_user(make_user())
        assert len(store.find_users()) == 1


def test_write_ahead_log_and_durability(store: SqliteStore, path: pathlib.Path) -> None:
    """The file uses WAL; the store's connection syncs every commit and enforces foreign keys."""
    with raw(path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    # Per-connection settings can only be read on the store's own connection.
    own = store._connection
    assert own is not None
    assert own.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert own.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_removing_a_role_removes_its_members(store: SqliteStore, path: pathlib.Path) -> None:
    """A role's candidate and approver rows go with it, leaving no orphans in the file."""
    role = Role(display_name="SQL", ttl=HOUR, candidates=[uuid.uuid4()], approvers=[uuid.uuid4()])
    store.add_role(role)
    store.remove_role(role.role_id)
    with raw(path) as connection:
        for table in ("role_candidates", "role_approvers"):
            assert connection.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)  # noqa: S608


def test_repr_shows_path_and_counts_never_the_pin(path: pathlib.Path) -> None:
    """repr() names the file and counts the rows; the PIN stays out."""
    with SqliteStore(path) as store:
        store.add_user(make_user(pin="97531"))
        store.add_request(make_request())
        shown = repr(store)
        assert str(path) in shown
        assert "users=1, roles=0, requests=1" in shown
        assert "97531" not in shown
    assert repr(store) == f"SqliteStore({str(path)!r}, closed)"


def test_context_manager_closes(path: pathlib.Path) -> None:
    """Leaving the with block closes the store."""
    with SqliteStore(path) as store:
        assert store.path == path
    with pytest.raises(StoreError, match="closed"):
        store.find_users()


@pytest.mark.parametrize("timeout", [-1, "5", True, None])
def test_timeout_must_be_seconds(path: pathlib.Path, timeout: object) -> None:
    """A negative or non-numeric timeout is refused before any file is touched."""
    with pytest.raises(InvalidValueError, match="timeout"):
        SqliteStore(path, timeout=timeout)  # type: ignore[arg-type]
    assert not path.exists()


def test_path_with_uri_characters(tmp_path: pathlib.Path) -> None:
    """Spaces, '?', '#', '%' and non-ASCII letters in the path name the file, not URI parts."""
    folder = tmp_path / "a b#c?d%20e ü"
    folder.mkdir()
    path = folder / "my store?.db"
    with SqliteStore(path) as store:
        store.add_user(make_user())
    assert path.stat().st_size > 0
    assert sorted(p.name for p in folder.iterdir()) == ["my store?.db"]


def test_naive_or_odd_arguments_are_refused(store: SqliteStore) -> None:
    """requests_due and purge_requests refuse naive datetimes and negative limits up front."""
    naive = dt.datetime(2024, 5, 1, 9, 0)
    with pytest.raises(InvalidValueError, match="aware datetime"):
        store.requests_due(RequestStatus.ACTIVE, before=naive)
    with pytest.raises(InvalidValueError, match="aware datetime"):
        store.purge_requests(finished_before=naive)
    for limit in (-1, True, 2.5):
        with pytest.raises(InvalidValueError, match="limit"):
            store.requests_due(RequestStatus.ACTIVE, before=T0, limit=limit)  # type: ignore[arg-type]


def test_is_usable_as_a_store(path: pathlib.Path) -> None:
    """SqliteStore satisfies the Store protocol, statically and at run time."""
    with SqliteStore(path) as concrete:
        store: Store = concrete
        assert isinstance(store, Store)


# --- round trips the contract cannot see ---------------------------------------------------------


def test_instants_come_back_in_utc(store: SqliteStore) -> None:
    """An aware datetime in any zone comes back as the same instant, in UTC."""
    paris = ZoneInfo("Europe/Paris")
    created = dt.datetime(2024, 3, 31, 2, 30, 0, 123456, tzinfo=dt.timezone(dt.timedelta(hours=-7)))
    request = make_request(
        creation_time=created,
        status=RequestStatus.ACTIVE,
        expiration_time=dt.datetime(2024, 7, 1, 12, 0, tzinfo=paris),
    )
    store.add_request(request)
    back = store.get_request(request.request_id)
    assert back == request
    assert back.creation_time.tzinfo is UTC
    assert back.creation_time.isoformat() == "2024-03-31T09:30:00.123456+00:00"
    assert back.expiration_time is not None
    assert back.expiration_time.isoformat() == "2024-07-01T10:00:00+00:00"


def test_repeated_local_hour_keeps_its_instant(store: SqliteStore) -> None:
    """The second 2:30 of a night when clocks go back is stored as that instant, not the first."""
    paris = ZoneInfo("Europe/Paris")
    second = dt.datetime(2024, 10, 27, 2, 30, fold=1, tzinfo=paris)
    request = make_request(creation_time=T0, status=RequestStatus.CLOSED, expiration_time=second)
    store.add_request(request)
    back = store.get_request(request.request_id).expiration_time
    assert back is not None
    # Python never finds a fold-dependent time equal to one in another zone (PEP 495), so
    # compare the instants.
    assert back.timestamp() == second.timestamp()
    assert back.isoformat() == "2024-10-27T01:30:00+00:00"


def test_zoned_window_keeps_its_zone(store: SqliteStore) -> None:
    """A window in an IANA zone comes back in that zone and opens at the same instants."""
    paris = ZoneInfo("Europe/Paris")
    role = Role(
        display_name="Paris hours",
        ttl=HOUR,
        availability_window_enabled=True,
        available_from=dt.time(9, tzinfo=paris),
        available_to=dt.time(17, 30, tzinfo=paris),
    )
    store.add_role(role)
    back = store.get_role(role.role_id)
    assert back.available_from is not None
    assert back.available_from.tzinfo is paris
    assert back.available_from == role.available_from
    summer_morning = dt.datetime(2024, 7, 1, 7, 30, tzinfo=UTC)  # 9:30 in Paris
    assert back.is_available_at(summer_morning)
    assert back.is_available_at(summer_morning) == role.is_available_at(summer_morning)


@pytest.mark.parametrize(
    "zone",
    [
        UTC,
        dt.timezone(dt.timedelta(hours=5, minutes=30)),
        dt.timezone(dt.timedelta(hours=-3), "BRT"),
        dt.timezone(dt.timedelta(0), "Z"),
    ],
    ids=["utc", "offset", "named", "named-zero"],
)
def test_fixed_offset_window_keeps_offset_and_name(store: SqliteStore, zone: dt.timezone) -> None:
    """A window in a fixed offset keeps the offset and any name it was given."""
    role = Role(display_name="fixed", ttl=HOUR, available_from=dt.time(8, tzinfo=zone))
    store.add_role(role)
    back = store.get_role(role.role_id).available_from
    assert back is not None
    assert back.tzinfo == zone
    assert back.tzname() == zone.tzname(None)
    if zone is UTC:
        assert back.tzinfo is UTC


class _HomeMadeZone(dt.tzinfo):
    def utcoffset(self, moment: dt.datetime | None) -> dt.timedelta:
        return dt.timedelta(hours=2)

    def dst(self, moment: dt.datetime | None) -> dt.timedelta:
        return dt.timedelta(0)

    def tzname(self, moment: dt.datetime | None) -> str:
        return "HOME"


def test_other_tzinfo_classes_are_refused(store: SqliteStore) -> None:
    """A tzinfo the store could not rebuild is refused with a StoreError, and nothing is stored."""
    role = Role(display_name="odd", ttl=HOUR, available_from=dt.time(8, tzinfo=_HomeMadeZone()))
    with pytest.raises(StoreError, match=r"available_from has a .*_HomeMadeZone time zone"):
        store.add_role(role)
    assert store.find_roles() == []


def test_microsecond_durations_survive(store: SqliteStore) -> None:
    """TTLs keep their microseconds."""
    role = Role(display_name="short", ttl=dt.timedelta(seconds=300, microseconds=7))
    store.add_role(role)
    assert store.get_role(role.role_id).ttl == dt.timedelta(seconds=300, microseconds=7)


def test_durations_beyond_sqlite_are_refused(store: SqliteStore) -> None:
    """A TTL too long for a 64-bit microsecond count is refused, not wrapped around."""
    role = Role(display_name="forever", ttl=dt.timedelta(days=999_999_999))
    with pytest.raises(StoreError, match="longer than the store can hold"):
        store.add_role(role)


def test_text_with_nul_and_newlines_survives(store: SqliteStore) -> None:
    """Justifications keep NUL characters, newlines and any script."""
    request = make_request(justification="ticket\x0042\r\n\tgrüße 計画 🙂")
    store.add_request(request)
    assert store.get_request(request.request_id).justification == request.justification


def test_lone_surrogates_are_refused(store: SqliteStore) -> None:
    """Text that is not valid Unicode raises StoreError; the store stays usable."""
    with pytest.raises(StoreError, match="not valid Unicode"):
        store.add_request(make_request(justification="broken \ud800"))
    assert store.find_requests() == []
    store.add_request(make_request())


def test_hand_edited_row_is_a_store_error(store: SqliteStore, path: pathlib.Path) -> None:
    """A row that no longer makes a valid user raises StoreError naming it, not echoing the PIN."""
    user = make_user(pin="1234")
    store.add_user(user)
    with raw(path) as connection:
        connection.execute("UPDATE users SET pin = '12ab'")
    with pytest.raises(StoreError, match=str(user.object_id)) as caught:
        store.get_user(user.object_id)
    assert "12ab" not in str(caught.value)
    assert "restore the store from a backup" in str(caught.value)


# --- indexes -------------------------------------------------------------------------------------


def query_plan(path: pathlib.Path, sql: str, parameters: tuple[object, ...]) -> str:
    with raw(path) as connection:
        rows = connection.execute(f"EXPLAIN QUERY PLAN {sql}", parameters).fetchall()
    return "\n".join(str(row[-1]) for row in rows)


def test_query_plans_use_the_indexes(store: SqliteStore, path: pathlib.Path) -> None:
    """Due requests, a user's roles and purging search an index instead of scanning a table."""
    due = query_plan(path, _sqlite.REQUESTS_DUE, ("Active", 0, -1))
    assert "USING INDEX requests_due (status=? AND due_at<?)" in due
    assert "TEMP B-TREE" not in due  # the index already gives the order
    roles = query_plan(path, _sqlite.ROLES_WITH_CANDIDATE, ("x",))
    assert "role_candidates_by_user (user_id=?)" in roles
    purge = query_plan(path, _sqlite.PURGE_REQUESTS, (0,))
    assert "requests_finished (finished_at<?)" in purge
    for plan in (due, roles, purge):
        assert "SCAN requests" not in plan
        assert "SCAN role_candidates" not in plan


@pytest.mark.parametrize(
    ("filters", "index"),
    [
        ({"source_domain": "CONTOSO"}, "users_by_source_identity (source_domain_folded=?)"),
        (
            {"source_domain": "CONTOSO", "source_account_name": "jen"},
            "users_by_source_identity (source_domain_folded=? AND source_account_folded=?)",
        ),
        ({"source_account_name": "jen"}, "users_by_account (source_account_folded=?)"),
        ({"display_name": "Jen"}, "users_by_display_name (display_name_folded=?)"),
    ],
)
def test_find_users_filters_use_indexes(
    store: SqliteStore, path: pathlib.Path, filters: dict[str, str], index: str
) -> None:
    """Each find_users filter searches its own index."""
    query = {"source_domain": None, "source_account_name": None, "display_name": None}
    sql, values = _sqlite.find_users_query(**{**query, **filters})
    plan = query_plan(path, sql, tuple(values))
    assert f"SEARCH users USING INDEX {index}" in plan
    assert "SCAN users" not in plan


@pytest.mark.parametrize(
    ("filters", "index"),
    [
        ({"requestor_id": uuid.uuid4()}, "requests_by_requestor (requestor_id=?)"),
        ({"role_id": uuid.uuid4()}, "requests_by_role (role_id=?)"),
        ({"statuses": [RequestStatus.ACTIVE, RequestStatus.SCHEDULED]}, "requests_due (status=?)"),
    ],
)
def test_find_requests_filters_use_indexes(
    store: SqliteStore, path: pathlib.Path, filters: dict[str, object], index: str
) -> None:
    """find_requests searches an index for each filter; all requests come in index order."""
    query: dict[str, object] = {"requestor_id": None, "role_id": None, "statuses": None}
    sql, values = _sqlite.find_requests_query(**{**query, **filters})  # type: ignore[arg-type]
    plan = query_plan(path, sql, tuple(values))
    assert f"SEARCH requests USING INDEX {index}" in plan
    everything, _ = _sqlite.find_requests_query(requestor_id=None, role_id=None, statuses=None)
    assert query_plan(path, everything, ()) == "SCAN requests USING INDEX requests_by_creation"


def fill(path: pathlib.Path, *, due: int, not_due: int) -> None:
    """Add requests straight into the file in one transaction: adding 20k one by one is slow."""
    template = _sqlite_codec.request_params(
        make_request(status=RequestStatus.ACTIVE, expiration_time=T0 + HOUR)
    )
    far = _sqlite_codec.instant(T0 + 1000 * HOUR, "far")
    rows = []
    for number in range(due + not_due):
        row = dict(template, request_id=str(uuid.uuid4()))
        if number >= due:
            # Half still running for long, half long finished: neither is due.
            if number % 2:
                row.update(due_at=far, expires_at=far)
            else:
                row.update(status="Closed", due_at=None, finished_at=far)
        rows.append(row)
    with raw(path) as connection:
        connection.execute("BEGIN")
        connection.executemany(_sqlite.INSERT_REQUEST, rows)
        connection.execute("COMMIT")


def due_query_steps(store: SqliteStore) -> int:
    """SQLite virtual machine steps that requests_due() takes to find the 10 due requests."""
    steps = 0

    def count() -> int:
        nonlocal steps
        steps += 1
        return 0  # carry on

    connection = store._connection
    assert connection is not None
    connection.set_progress_handler(count, 1)
    try:
        found = store.requests_due(RequestStatus.ACTIVE, before=T0 + 2 * HOUR)
    finally:
        connection.set_progress_handler(None, 1)
    assert len(found) == 10
    return steps


def test_requests_due_cost_follows_the_result(tmp_path: pathlib.Path) -> None:
    """Finding 10 due requests among 20,000 takes the steps it takes among 200.

    Counted in SQLite virtual machine steps, not timed: a scan of the table would take about
    100 times as many steps in the large file. (How long it takes is a benchmark figure.)
    """
    small, large = tmp_path / "small.db", tmp_path / "large.db"
    steps = []
    for file, not_due in ((small, 200), (large, 20_000)):
        SqliteStore(file).close()
        fill(file, due=10, not_due=not_due)
        with SqliteStore(file) as store:
            steps.append(due_query_steps(store))
    # The index leads to the 10 rows whatever the table holds; leave room for a deeper B-tree.
    assert steps[1] < 2 * steps[0], steps


# --- iter_users ----------------------------------------------------------------------------------


def test_iter_users_reads_pages(store: SqliteStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """Users come a page at a time; users present throughout are seen exactly once."""
    monkeypatch.setattr(_sqlite, "_PAGE_SIZE", 3)
    added = sorted((make_user(f"user{n}") for n in range(10)), key=lambda u: str(u.object_id))
    for user in added:
        store.add_user(user)
    walking = store.iter_users()
    seen = [next(walking) for _ in range(4)]  # into the second page
    last = make_user("late", object_id=uuid.UUID("ffffffff-ffff-4fff-bfff-ffffffffffff"))
    store.add_user(last)
    store.remove_user(added[-1].object_id)
    seen.extend(walking)
    assert [u.object_id for u in seen] == [u.object_id for u in [*added[:-1], last]]


def test_iter_users_holds_no_read_transaction(
    store: SqliteStore, path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between pages no snapshot is held, so the log can be checkpointed in full."""
    monkeypatch.setattr(_sqlite, "_PAGE_SIZE", 2)
    for number in range(5):
        store.add_user(make_user(f"user{number}"))
    walking = store.iter_users()
    next(walking)
    store.add_request(make_request())
    with raw(path, timeout=0) as connection:
        busy, _, _ = connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    assert busy == 0
    assert len(list(walking)) == 4


def test_iter_users_after_close(store: SqliteStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """Closing the store during a walk raises StoreError at the next page."""
    monkeypatch.setattr(_sqlite, "_PAGE_SIZE", 2)
    for number in range(5):
        store.add_user(make_user(f"user{number}"))
    walking = store.iter_users()
    next(walking)
    next(walking)
    store.close()
    with pytest.raises(StoreError, match="closed"):
        next(walking)


# --- schema versions -----------------------------------------------------------------------------


def test_schema_version_and_owner_are_recorded(store: SqliteStore, path: pathlib.Path) -> None:
    """A new file has the latest schema version and pyampam's application id."""
    with raw(path) as connection:
        assert connection.execute("PRAGMA user_version").fetchone() == (1,)
        application_id = connection.execute("PRAGMA application_id").fetchone()[0]
    assert application_id == _sqlite_schema.APPLICATION_ID
    assert len(_sqlite_schema.MIGRATIONS) == 1


def test_newer_schema_is_refused(path: pathlib.Path) -> None:
    """A file written by a newer pyampam is refused with advice to upgrade, and left alone."""
    SqliteStore(path).close()
    with raw(path) as connection:
        connection.execute("PRAGMA user_version = 7")
    with pytest.raises(StoreError, match=r"schema version 7.*upgrade pyampam") as caught:
        SqliteStore(path)
    assert str(path) in str(caught.value)
    with raw(path) as connection:
        assert connection.execute("PRAGMA user_version").fetchone() == (7,)


def test_later_migration_runs_once(path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A registered migration 1 -> 2 runs once, on the next open, keeping the data."""
    user = make_user()
    with SqliteStore(path) as store:
        store.add_user(user)
    runs = []

    def add_nickname(connection: sqlite3.Connection) -> None:
        runs.append(connection.execute("PRAGMA user_version").fetchone()[0])
        connection.execute("ALTER TABLE users ADD COLUMN nickname TEXT")

    monkeypatch.setattr(_sqlite_schema, "MIGRATIONS", [*_sqlite_schema.MIGRATIONS, add_nickname])
    for _ in range(2):
        with SqliteStore(path) as store:
            assert store.get_user(user.object_id) == user
    assert runs == [1]
    with raw(path) as connection:
        assert connection.execute("PRAGMA user_version").fetchone() == (2,)
        columns = [row[1] for row in connection.execute("PRAGMA table_info(users)")]
    assert "nickname" in columns


def test_new_file_runs_every_migration_in_order(
    path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new file goes through version 1 and then the later migrations."""
    runs = []
    monkeypatch.setattr(
        _sqlite_schema,
        "MIGRATIONS",
        [
            *_sqlite_schema.MIGRATIONS,
            lambda connection: runs.append(2),
            lambda connection: runs.append(3),
        ],
    )
    SqliteStore(path).close()
    assert runs == [2, 3]
    with raw(path) as connection:
        assert connection.execute("PRAGMA user_version").fetchone() == (3,)


def test_failed_migration_changes_nothing(
    path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A migration that fails halfway leaves the old version and none of its changes."""
    SqliteStore(path).close()

    def broken(connection: sqlite3.Connection) -> None:
        connection.execute("CREATE TABLE half_done (x)")
        connection.execute("ALTER TABLE no_such_table ADD COLUMN y")

    monkeypatch.setattr(_sqlite_schema, "MIGRATIONS", [*_sqlite_schema.MIGRATIONS, broken])
    with pytest.raises(StoreError, match="no such table"):
        SqliteStore(path)
    with raw(path) as connection:
        assert connection.execute("PRAGMA user_version").fetchone() == (1,)
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    assert "half_done" not in tables
    monkeypatch.undo()
    SqliteStore(path).close()


def test_other_programs_database_is_refused(path: pathlib.Path) -> None:
    """An SQLite file with someone else's tables is refused and not written to."""
    with raw(path) as connection:
        connection.execute("CREATE TABLE bookmarks (url TEXT)")
    with pytest.raises(StoreError, match="another program"):
        SqliteStore(path)
    with raw(path) as connection:
        tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master")]
    assert tables == ["bookmarks"]


def test_other_application_id_is_refused(path: pathlib.Path) -> None:
    """A file tagged by another application is refused, whatever its version says."""
    with raw(path) as connection:
        connection.execute("PRAGMA application_id = 1234")
        connection.execute("PRAGMA user_version = 9")
    with pytest.raises(StoreError, match="another program"):
        SqliteStore(path)


# --- files pyampam cannot use --------------------------------------------------------------------


def assert_mapped(error: StoreError, path: pathlib.Path) -> None:
    """The message names the file; SQLite's own exception is the cause, not the error."""
    assert str(path) in str(error)
    assert not isinstance(error, sqlite3.Error)


def test_not_a_database(path: pathlib.Path) -> None:
    """A file of other bytes is refused with StoreError, and not overwritten."""
    content = b"MfaSettings, not a database\n" * 200
    path.write_bytes(content)
    with pytest.raises(StoreError, match="not an SQLite database") as caught:
        SqliteStore(path)
    assert_mapped(caught.value, path)
    assert isinstance(caught.value.__cause__, sqlite3.DatabaseError)
    assert path.read_bytes() == content


def read_everything(path: pathlib.Path) -> None:
    with SqliteStore(path) as store:
        store.find_users()
        list(store.iter_users())


def test_damaged_database(path: pathlib.Path) -> None:
    """A file whose pages were overwritten raises StoreError pointing to backups, not a crash."""
    with SqliteStore(path) as store:
        for number in range(300):
            store.add_user(make_user(f"user{number}", description="x" * 200))
    data = bytearray(path.read_bytes())
    page = 4096
    garbage = os.urandom(len(data) - 2 * page)
    data[2 * page :] = garbage
    path.write_bytes(bytes(data))
    with pytest.raises(StoreError, match="damaged") as caught:
        read_everything(path)
    assert_mapped(caught.value, path)


def test_folder_instead_of_file(tmp_path: pathlib.Path) -> None:
    """A folder is refused with a suggestion of a file inside it."""
    with pytest.raises(StoreError, match="is a folder") as caught:
        SqliteStore(tmp_path)
    assert_mapped(caught.value, tmp_path)
    assert "pyampam.db" in str(caught.value)


def test_missing_folder(tmp_path: pathlib.Path) -> None:
    """A file in a folder that does not exist is refused; no folder is made."""
    target = tmp_path / "nowhere" / "pyampam.db"
    with pytest.raises(StoreError, match="create its folder") as caught:
        SqliteStore(target)
    assert_mapped(caught.value, target)
    assert not target.parent.exists()


@pytest.fixture
def shared_dir() -> Iterator[pathlib.Path]:
    """A folder another (unprivileged) user can enter, removed afterwards."""
    # Outside pytest's tmp_path: its parents are closed to other users.
    directory = pathlib.Path(tempfile.mkdtemp(prefix="pyampam-store-"))
    try:
        yield directory
    finally:
        directory.chmod(0o700)
        shutil.rmtree(directory)


AS_NOBODY = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]


@functools.cache
def _nobody_can_run_the_child() -> str:
    """Empty if the unprivileged user can run the child script, else what stops it."""
    probe = subprocess.run(
        [*AS_NOBODY, sys.executable, "-c", f"import attrs, pyampam; open({str(CHILD)!r}).close()"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return "" if probe.returncode == 0 else (probe.stderr.strip().splitlines() or ["?"])[-1]


def _skip_unless_nobody_can_run_the_child() -> None:
    # A virtual environment or checkout in a private folder (mktemp -d, a home directory) is
    # closed to other users; then the check cannot be made here, which is not a failure.
    problem = _nobody_can_run_the_child()
    if problem:
        pytest.skip(f"an unprivileged user cannot run this interpreter or the child: {problem}")


def open_elsewhere(path: pathlib.Path) -> dict[str, str | None]:
    """Open the store and add a user in another process, as an unprivileged user if we are root.

    Root ignores file modes, so a read-only file is only read-only to somebody else.
    """
    command = [sys.executable, str(CHILD), "try", str(path)]
    if os.geteuid() == 0:
        for place in [path.parent, *path.parent.iterdir()]:
            os.chown(place, NOBODY, NOBODY)
        # setpriv rather than Popen(user=...): the latter cannot exec an interpreter that
        # lives under root's home, as pyenv's do.
        command = [*AS_NOBODY, *command]
        _skip_unless_nobody_can_run_the_child()
    done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    outcome: dict[str, str | None] = json.loads(done.stdout)
    return outcome


needs_posix_users = pytest.mark.skipif(
    not POSIX or (os.geteuid() == 0 and shutil.which("setpriv") is None),
    reason="needs POSIX permissions, and setpriv to drop root's",
)


@needs_posix_users
def test_read_only_file(shared_dir: pathlib.Path) -> None:
    """A read-only database is refused at open, naming the file and what to change."""
    path = shared_dir / "pyampam.db"
    SqliteStore(path).close()
    assert open_elsewhere(path)["type"] is None  # the other user may write it until...
    path.chmod(0o400)
    outcome = open_elsewhere(path)
    assert outcome["type"] == "StoreError"
    assert outcome["message"] is not None
    assert str(path) in outcome["message"]
    assert "read-only" in outcome["message"]


@needs_posix_users
def test_read_only_folder(shared_dir: pathlib.Path) -> None:
    """A writable database in a read-only folder (no room for -wal and -shm) is refused."""
    path = shared_dir / "pyampam.db"
    SqliteStore(path).close()
    assert open_elsewhere(path)["type"] is None  # the other user may write it until...
    shared_dir.chmod(0o555)
    outcome = open_elsewhere(path)
    assert outcome["type"] == "StoreError"
    assert outcome["message"] is not None
    assert str(path) in outcome["message"]
    assert "-wal" in outcome["message"]


@needs_posix_users
def test_new_file_in_read_only_folder(shared_dir: pathlib.Path) -> None:
    """A new store in a folder the user may not write is refused, naming the file."""
    path = shared_dir / "pyampam.db"
    if os.geteuid() == 0:
        os.chown(shared_dir, NOBODY, NOBODY)
    shared_dir.chmod(0o555)
    outcome = open_elsewhere(path)
    assert outcome["type"] == "StoreError"
    assert outcome["message"] is not None
    assert str(path) in outcome["message"]
    assert not path.exists()


def test_locked_longer_than_timeout(path: pathlib.Path) -> None:
    """A writer that holds the file past the timeout gives a StoreError, not a hang."""
    with SqliteStore(path, timeout=0.2) as store, raw(path) as other:
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(StoreError, match="longer timeout") as caught:
            store.add_user(make_user())
        # SQLite waited the store's 0.2 s for the lock, not sqlite3's default 5 s or the
        # store's default 30 s: read from the connection, not timed.
        connection = store._connection
        assert connection is not None
        assert connection.execute("PRAGMA busy_timeout").fetchone()[0] == 200
        assert_mapped(caught.value, path)
        assert store.find_users() == []  # readers do not wait for writers
        other.execute("ROLLBACK")
        store.add_user(make_user())


def test_opening_does_not_wait_for_writers(path: pathlib.Path) -> None:
    """An up-to-date file opens while another process holds the write lock."""
    SqliteStore(path).close()
    with raw(path) as other:
        other.execute("BEGIN IMMEDIATE")
        with SqliteStore(path, timeout=0) as store:
            assert store.find_users() == []
        other.execute("ROLLBACK")


def test_every_error_is_a_pyampam_error(path: pathlib.Path) -> None:
    """Nothing raw escapes: the store's errors all derive from PyampamError."""
    path.write_bytes(b"\x00" * 8192)
    with pytest.raises(PyampamError):
        SqliteStore(path)


# --- threads -------------------------------------------------------------------------------------


def test_threads_share_one_store(store: SqliteStore) -> None:
    """Many threads may add and read through one store at once."""
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(25):
                request = make_request()
                store.add_request(request)
                assert store.get_request(request.request_id) == request
                store.find_requests(requestor_id=request.requestor_id)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(store.find_requests()) == 200


def test_threads_compare_and_set(store: SqliteStore) -> None:
    """Of many threads moving the same request at once, exactly one succeeds."""
    request = make_request(status=RequestStatus.PENDING_MFA)
    store.add_request(request)
    start = threading.Barrier(8)
    winners: list[int] = []

    def attempt(number: int) -> None:
        changed = attrs.evolve(request, status=RequestStatus.REJECTED, status_reason=str(number))
        start.wait()
        with contextlib.suppress(ConcurrentUpdateError):
            store.update_request(changed, expected_status=RequestStatus.PENDING_MFA)
            winners.append(number)

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(winners) == 1
    assert store.get_request(request.request_id).status_reason == str(winners[0])


# --- processes -----------------------------------------------------------------------------------


def test_processes_compare_and_set(store: SqliteStore, path: pathlib.Path) -> None:
    """Two processes moving the same requests: each request is won by exactly one of them."""
    requests = [make_request(status=RequestStatus.PENDING_MFA) for _ in range(40)]
    for request in requests:
        store.add_request(request)
    ids = [str(r.request_id) for r in requests]
    with (
        child("cas", str(path), "Active", *ids) as first,
        child("cas", str(path), "Rejected", *reversed(ids)) as second,
    ):
        processes = {"Active": first, "Rejected": second}
        for process in processes.values():
            assert process.stdout is not None
            assert process.stdout.readline() == "ready\n"
        for process in processes.values():
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        outputs = {status: p.communicate(timeout=60) for status, p in processes.items()}
    winners: dict[str, list[str]] = {text: [] for text in ids}
    for status, (out, err) in outputs.items():
        assert processes[status].returncode == 0, err
        for line in out.splitlines():
            text, outcome = line.split()
            if outcome == "won":
                winners[text].append(status)
    assert all(len(won) == 1 for won in winners.values()), winners
    for request in requests:
        stored = store.get_request(request.request_id)
        assert stored.status.value == winners[str(request.request_id)][0]


def test_processes_write_at_once(path: pathlib.Path) -> None:
    """Two processes creating and filling the same new file both finish, no 'database is locked'."""
    with child("add", str(path), "150") as first, child("add", str(path), "150") as second:
        results = [first.communicate(timeout=60), second.communicate(timeout=60)]
    for process, (out, err) in zip((first, second), results, strict=True):
        assert process.returncode == 0, err
        assert out == "done\n"
    with SqliteStore(path) as store:
        assert len(store.find_requests()) == 300


def test_killed_writer_loses_nothing_committed(path: pathlib.Path) -> None:
    """After SIGKILL at random moments the file is intact and holds every committed request."""
    chance = random.SystemRandom()
    committed: list[str] = []
    for _ in range(5):
        with child("add-forever", str(path)) as process:
            assert process.stdout is not None
            first = process.stdout.readline()
            time.sleep(chance.uniform(0.0, 0.25))
            process.kill()
            rest, _ = process.communicate(timeout=30)
        lines = (first + rest).split("\n")
        # The last piece was cut by the kill (or is empty): only whole lines were committed.
        committed.extend(line for line in lines[:-1] if line)
        with raw(path) as connection:
            assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        with SqliteStore(path) as store:
            for text in committed:
                store.get_request(uuid.UUID(text))
    assert len(committed) > 5


# --- agreement with MemoryStore ------------------------------------------------------------------

POOL = ["jen", "JEN", "Jürgen", "JÜRGEN", "straße", "STRASSE", "σίσυφος", "ΣΊΣΥΦΟΣ", "ǅ", "ǆ"]
AGREE = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@contextlib.contextmanager
def both_stores() -> Iterator[tuple[MemoryStore, SqliteStore]]:
    with tempfile.TemporaryDirectory() as directory:
        memory = MemoryStore()
        sqlite = SqliteStore(pathlib.Path(directory) / "pyampam.db")
        try:
            yield memory, sqlite
        finally:
            sqlite.close()
            memory.close()


def outcome(method: Callable[..., object], *args: object) -> object:
    """What a call gave: its result, or the class of the pyampam error it raised."""
    try:
        return method(*args)
    except PyampamError as exc:
        return type(exc)


@AGREE
@given(data=st.data())
def test_users_agree_with_memory_store(data: st.DataObject) -> None:
    """Adding, replacing and finding users with case variants gives what MemoryStore gives."""
    names = st.sampled_from(POOL)
    with both_stores() as (memory, sqlite):
        added = []
        for _ in range(data.draw(st.integers(1, 12))):
            user = User(
                object_id=data.draw(st.uuids()),
                source_domain=data.draw(names),
                source_account_name=data.draw(names),
                display_name=data.draw(st.none() | names),
            )
            results = [outcome(s.add_user, user) for s in (memory, sqlite)]
            assert results[0] == results[1]
            added.append(user)
        for _ in range(5):
            target = data.draw(st.sampled_from(added))
            changed = attrs.evolve(target, source_account_name=data.draw(names))
            results = [outcome(s.replace_user, changed) for s in (memory, sqlite)]
            assert results[0] == results[1]
        for _ in range(10):
            query = {
                field: data.draw(st.none() | names)
                for field in ("source_domain", "source_account_name", "display_name")
            }
            assert memory.find_users(**query) == sqlite.find_users(**query)
        assert sorted(memory.iter_users(), key=str) == sorted(sqlite.iter_users(), key=str)


@AGREE
@given(data=st.data())
def test_roles_agree_with_memory_store(data: st.DataObject) -> None:
    """Roles with case-variant names and shared candidates behave as in MemoryStore."""
    people = data.draw(st.lists(st.uuids(), min_size=4, max_size=4, unique=True))
    with both_stores() as (memory, sqlite):
        for _ in range(data.draw(st.integers(1, 10))):
            role = Role(
                role_id=data.draw(st.uuids()),
                display_name=data.draw(st.sampled_from(POOL)),
                ttl=HOUR,
                candidates=data.draw(st.sets(st.sampled_from(people))),
            )
            results = [outcome(s.add_role, role) for s in (memory, sqlite)]
            assert results[0] == results[1]
        assert memory.find_roles() == sqlite.find_roles()
        for name in POOL:
            assert memory.find_roles(display_name=name) == sqlite.find_roles(display_name=name)
        for person in people:
            assert memory.roles_with_candidate(person) == sqlite.roles_with_candidate(person)


@st.composite
def pooled_requests(draw: st.DrawFn, people: list[uuid.UUID]) -> ActivationRequest:
    """Requests sharing requestors, roles and instants, so filters and ties matter."""
    moments = [T0 + n * dt.timedelta(minutes=20) for n in range(6)]
    status = draw(st.sampled_from(RequestStatus))
    created = draw(st.sampled_from(moments))
    expiration = None
    if status is RequestStatus.ACTIVE or (not status.is_pending and draw(st.booleans())):
        expiration = draw(st.sampled_from([m for m in moments if m >= created]))
    return make_request(
        request_id=draw(st.uuids()),
        requestor_id=draw(st.sampled_from(people)),
        role_id=draw(st.sampled_from(people)),
        creation_time=created,
        requested_time=draw(st.none() | st.sampled_from(moments)),
        expiration_time=expiration,
        status=status,
    )


@AGREE
@given(data=st.data())
def test_requests_agree_with_memory_store(data: st.DataObject) -> None:
    """Finding, due lists, limits and purges of requests match MemoryStore exactly."""
    people = data.draw(st.lists(st.uuids(), min_size=3, max_size=3, unique=True))
    moments = st.sampled_from([T0 + n * dt.timedelta(minutes=10) for n in range(14)])
    with both_stores() as (memory, sqlite):
        for request in data.draw(st.lists(pooled_requests(people), max_size=15)):
            for store in (memory, sqlite):
                store.add_request(request)
        for _ in range(5):
            query = {
                "requestor_id": data.draw(st.none() | st.sampled_from(people)),
                "role_id": data.draw(st.none() | st.sampled_from(people)),
                "statuses": data.draw(st.none() | st.sets(st.sampled_from(RequestStatus))),
            }
            assert memory.find_requests(**query) == sqlite.find_requests(**query)  # type: ignore[arg-type]
        for status in (RequestStatus.ACTIVE, RequestStatus.SCHEDULED):
            before = data.draw(moments)
            limit = data.draw(st.none() | st.integers(0, 5))
            assert memory.requests_due(status, before=before, limit=limit) == sqlite.requests_due(
                status, before=before, limit=limit
            )
        cutoff = data.draw(moments)
        assert memory.purge_requests(finished_before=cutoff) == sqlite.purge_requests(
            finished_before=cutoff
        )
        assert memory.find_requests() == sqlite.find_requests()


def test_a_phone_with_extension_survives_reopening(path: pathlib.Path) -> None:
    """What one store object wrote, a later one reads back: the data is in the file."""
    user = make_user(phone=PhoneNumber(44, "2079460958", "@12,3#"), pin="246810")
    with SqliteStore(path) as store:
        store.add_user(user)
    with SqliteStore(path) as store:
        assert store.get_user(user.object_id) == user
