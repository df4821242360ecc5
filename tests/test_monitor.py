"""PamService.monitor_phones: stored phone numbers against the CORP directory, event 825."""

from __future__ import annotations

import datetime as dt
import pathlib
import uuid
from collections.abc import Iterator

import pytest

from pyampam import PhoneNumber, Role, User
from pyampam.activation import PamService, PhoneChange
from pyampam.directory import DirectoryEntry, MemoryDirectory
from pyampam.events import EventId, EventLevel
from pyampam.exceptions import NotFoundError
from pyampam.store import MemoryStore, SqliteStore, Store

UTC = dt.timezone.utc
T0 = dt.datetime(2024, 5, 6, 9, 0, tzinfo=UTC)
JEN = "+1 4255550100"
NEW = "+1 2065550199"


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> Iterator[Store]:
    opened: Store = MemoryStore() if request.param == "memory" else SqliteStore(tmp_path / "pam.db")
    yield opened
    opened.close()


@pytest.fixture
def directory() -> MemoryDirectory:
    return MemoryDirectory(
        [
            DirectoryEntry(source_domain="CONTOSO", source_account_name="jen", phone=JEN),
            DirectoryEntry(source_domain="CONTOSO", source_account_name="bob"),
        ]
    )


@pytest.fixture
def service(store: Store) -> PamService:
    return PamService(store=store, clock=lambda: T0)


@pytest.fixture
def jen(service: PamService, directory: MemoryDirectory) -> User:
    return service.new_user("CONTOSO", "jen", directory=directory)


def test_unchanged_numbers_report_nothing(
    service: PamService, directory: MemoryDirectory, jen: User
) -> None:
    """When every stored number matches the directory, there is no change and no event."""
    service.new_user("CONTOSO", "bob", directory=directory)
    assert service.monitor_phones(directory) == []
    assert len(service.events) == 0


def test_a_number_written_differently_is_not_a_change(
    service: PamService, directory: MemoryDirectory, jen: User
) -> None:
    """The directory's text is compared as a phone number, not as text."""
    for text in ("(425) 555-0100", "14255550100", "425.555.0100", "+1 425 555 0100"):
        directory.set_phone("CONTOSO", "jen", text)
        assert service.monitor_phones(directory) == []


def test_a_changed_number_is_reported_with_event_825(
    service: PamService, directory: MemoryDirectory, jen: User
) -> None:
    """A changed CORP number is reported and logged as 825; the stored number stays, as in MIM."""
    directory.set_phone("CONTOSO", "jen", "(206) 555-0199")
    [change] = service.monitor_phones(directory)
    assert change == PhoneChange(
        user_id=jen.object_id,
        source_identity="CONTOSO\\jen",
        old=PhoneNumber.parse(JEN),
        new=PhoneNumber.parse(NEW),
        directory_text="(206) 555-0199",
        problem=None,
        updated=False,
    )
    assert change.readable
    assert service.get_user(jen).phone == PhoneNumber.parse(JEN)
    [event] = service.events.query(event_id=EventId.PHONE_NUMBER_CHANGED)
    assert event.level is EventLevel.WARNING
    assert event.source == "PAM Monitoring Service"
    assert event.user_id == jen.object_id
    assert event.time == T0
    assert event.extra["old_phone"] == JEN
    assert event.extra["new_phone"] == NEW
    assert event.extra["source_identity"] == "CONTOSO\\jen"
    assert "CONTOSO\\jen" in event.message
    # Nothing was stored, so the next pass reports the same change again.
    assert service.monitor_phones(directory) == [change]
    assert len(service.events.query(event_id=825)) == 2


def test_update_stores_the_directory_number(
    service: PamService, directory: MemoryDirectory, jen: User
) -> None:
    """With update=True the new number is stored, so the next pass finds nothing."""
    service.set_user(jen, description="kept")
    directory.set_phone("CONTOSO", "jen", NEW)
    [change] = service.monitor_phones(directory, update=True)
    assert change.updated
    stored = service.get_user(jen)
    assert stored.phone == PhoneNumber.parse(NEW)
    assert stored.description == "kept"
    assert "updated" in service.events.query(event_id=825)[0].message
    assert service.monitor_phones(directory, update=True) == []
    assert len(service.events) == 1


def test_an_unreadable_directory_number_is_reported_not_raised(
    service: PamService, directory: MemoryDirectory, jen: User
) -> None:
    """Text that is not a number is reported with the problem; update=True does not store it."""
    directory.set_phone("CONTOSO", "jen", "ask reception")
    [change] = service.monitor_phones(directory, update=True)
    assert change.new is None
    assert change.directory_text == "ask reception"
    assert not change.readable
    assert not change.updated
    assert change.problem is not None
    assert "letters" in change.problem
    assert service.get_user(jen).phone == PhoneNumber.parse(JEN)
    [event] = service.events.query(event_id=825)
    assert event.extra["new_phone"] == "ask reception"
    assert "not a usable phone number" in event.message


def test_a_removed_or_added_number_is_a_change(
    service: PamService, directory: MemoryDirectory, jen: User
) -> None:
    """A number removed from or added to the directory is reported, and applied by update."""
    bob = service.new_user("CONTOSO", "bob", directory=directory)
    assert bob.phone is None
    directory.set_phone("CONTOSO", "jen", None)
    directory.set_phone("CONTOSO", "bob", NEW)
    changes = {change.source_identity: change for change in service.monitor_phones(directory)}
    assert changes["CONTOSO\\jen"].new is None
    assert changes["CONTOSO\\jen"].readable
    assert changes["CONTOSO\\bob"].old is None
    assert changes["CONTOSO\\bob"].new == PhoneNumber.parse(NEW)
    service.monitor_phones(directory, update=True)
    assert service.get_user(jen).phone is None
    assert service.get_user(bob).phone == PhoneNumber.parse(NEW)


def test_update_never_clears_the_phone_of_an_mfa_candidate(
    service: PamService, directory: MemoryDirectory, jen: User
) -> None:
    """Clearing would break an MFA role, so the change is only reported, with the reason."""
    service.new_role("SQL admins", candidates=[jen], mfa_enabled=True)
    directory.set_phone("CONTOSO", "jen", None)
    [change] = service.monitor_phones(directory, update=True)
    assert not change.updated
    assert change.problem is not None
    assert "'SQL admins'" in change.problem
    assert service.get_user(jen).phone == PhoneNumber.parse(JEN)


def test_users_missing_from_the_directory_are_skipped(
    service: PamService, directory: MemoryDirectory, jen: User
) -> None:
    """A PAM user with no directory entry is not a phone change."""
    service.new_user("FABRIKAM", "amy", phone=NEW)
    assert service.monitor_phones(directory) == []


def test_the_default_country_code_reads_directory_numbers(
    store: Store, directory: MemoryDirectory
) -> None:
    """Directory numbers without a country code are read with the service's default."""
    service = PamService(store=store, clock=lambda: T0, default_country_code=44)
    amy = service.new_user("CONTOSO", "amy", phone="+44 20 7946 0958")
    directory.add(
        DirectoryEntry(source_domain="CONTOSO", source_account_name="amy", phone="020 7946 0958")
    )
    assert service.monitor_phones(directory) == []
    directory.set_phone("CONTOSO", "amy", "020 7946 0959")
    [change] = service.monitor_phones(directory)
    assert change.user_id == amy.object_id
    assert change.new == PhoneNumber(44, "2079460959")


class UsersOnlyStore:
    """The part of the Store protocol the phone check uses, over a dict: no per-add scan."""

    def __init__(self, users: list[User]) -> None:
        self.users = {user.object_id: user for user in users}
        self.iterated = 0

    def iter_users(self) -> Iterator[User]:
        for user in list(self.users.values()):
            self.iterated += 1
            yield user

    def get_user(self, object_id: uuid.UUID) -> User:
        try:
            return self.users[object_id]
        except KeyError:
            raise NotFoundError(str(object_id)) from None

    def replace_user(self, user: User) -> None:
        self.users[user.object_id] = user

    def roles_with_candidate(self, user_id: uuid.UUID) -> list[Role]:
        return []


def test_twenty_thousand_users_in_one_pass() -> None:
    """A pass over 20k users finds exactly the changed ones, streaming the store once."""
    count = 20_000
    users = [
        User(
            source_domain="CONTOSO",
            source_account_name=f"user{n}",
            phone=PhoneNumber(1, f"425{n:07d}"),
        )
        for n in range(count)
    ]
    entries = []
    for n, user in enumerate(users):
        # Every 10th number changed; the others in assorted but equal spellings.
        number = f"206{n:07d}" if n % 10 == 0 else f"425{n:07d}"
        text = [f"+1 {number}", f"({number[:3]}) {number[3:6]}-{number[6:]}", f"1{number}"][n % 3]
        entries.append(
            DirectoryEntry(
                source_domain="contoso", source_account_name=user.source_account_name, phone=text
            )
        )
    store = UsersOnlyStore(users)
    service = PamService(store=store, clock=lambda: T0)  # type: ignore[arg-type]
    changes = service.monitor_phones(MemoryDirectory(entries), update=True)
    assert store.iterated == count
    assert len(changes) == count // 10
    assert all(change.updated for change in changes)
    assert len(service.events.query(event_id=825)) == count // 10
    assert store.users[users[10].object_id].phone == PhoneNumber(1, "2060000010")
    assert store.users[users[11].object_id] == users[11]


def test_the_store_is_not_changed_without_update(
    service: PamService, store: Store, directory: MemoryDirectory, jen: User
) -> None:
    """Without update=True the stored users are exactly as before."""
    before = list(store.iter_users())
    directory.set_phone("CONTOSO", "jen", NEW)
    service.monitor_phones(directory)
    assert list(store.iter_users()) == before
