"""The PAM event log: MIM's event ids, events, sinks, the JSON Lines file and queries."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import pathlib
import pickle
import stat
import subprocess
import sys
import tempfile
import threading
import uuid
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.strategies import activation_requests, aware_datetimes, names, roles

from pyampam import ActivationRequest, PhoneNumber, Role, User
from pyampam.events import (
    PYAMPAM_EVENT_IDS,
    EventId,
    EventLevel,
    EventLog,
    EventLogError,
    EventSink,
    EventSinkError,
    JsonLinesSink,
    LoggingSink,
    MemorySink,
    PamEvent,
    read_events,
)
from pyampam.events._log import _Query
from pyampam.exceptions import InvalidValueError, PyampamError
from pyampam.providers import CallResult

UTC = dt.timezone.utc
NOON = dt.datetime(2024, 1, 15, 12, 0, tzinfo=UTC)
JEN = uuid.UUID("11111111-1111-1111-1111-111111111111")
BOB = uuid.UUID("22222222-2222-2222-2222-222222222222")
SQL = uuid.UUID("33333333-3333-3333-3333-333333333333")
REQUEST = uuid.UUID("44444444-4444-4444-4444-444444444444")
POSIX = os.name == "posix"


def event(**changes: object) -> PamEvent:
    fields: dict[str, object] = {
        "event_id": 60100,
        "level": EventLevel.INFORMATION,
        "source": "pyampam",
        "time": NOON,
        "message": "Activation request created",
        "user_id": JEN,
    }
    fields.update(changes)
    return PamEvent(**fields)  # type: ignore[arg-type]


def make_request(**changes: object) -> ActivationRequest:
    fields: dict[str, object] = {
        "request_id": REQUEST,
        "requestor_id": JEN,
        "role_id": SQL,
        "requested_ttl": dt.timedelta(hours=1),
        "creation_time": NOON,
    }
    fields.update(changes)
    return ActivationRequest(**fields)  # type: ignore[arg-type]


# --- strategies ----------------------------------------------------------------------------------

_SECRET_WORDS = {"pin", "password", "passwd", "pwd", "secret", "otp", "passcode", "key", "token"}
_extra_keys = st.from_regex(r"[a-z]{1,8}(_[a-z]{1,8})?", fullmatch=True).filter(
    lambda key: not set(key.split("_")) & _SECRET_WORDS and "credential" not in key
)
_event_text = st.text(st.characters(exclude_categories=("Cc", "Cs")) | st.sampled_from("\n\t"))
_extra_values = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _event_text
)


@st.composite
def pam_events(
    draw: st.DrawFn,
    *,
    users: st.SearchStrategy[uuid.UUID | None] | None = None,
    roles: st.SearchStrategy[uuid.UUID | None] | None = None,
    role_names: st.SearchStrategy[str | None] | None = None,
    times: st.SearchStrategy[dt.datetime] | None = None,
) -> PamEvent:
    """Any valid event: a known id with its own level and source, or an unknown id."""
    known = draw(st.none() | st.sampled_from(list(EventId)))
    if known is None:
        event_id: int = draw(st.integers(0, 0xFFFF).filter(lambda n: n not in set(EventId)))
        level = draw(st.sampled_from(list(EventLevel)))
        source = draw(names())
    else:
        event_id, level, source = known, known.level, known.source
    return PamEvent(
        event_id=event_id,
        level=level,
        source=source,
        time=draw(times if times is not None else aware_datetimes()),
        message=draw(_event_text),
        user_id=draw(users if users is not None else st.none() | st.uuids()),
        role_id=draw(roles if roles is not None else st.none() | st.uuids()),
        role_name=draw(role_names if role_names is not None else st.none() | names()),
        request_id=draw(st.none() | st.uuids()),
        call_result=draw(st.none() | st.sampled_from(list(CallResult)) | names()),
        extra=draw(st.dictionaries(_extra_keys, _extra_values, max_size=4)),
    )


# --- event ids -----------------------------------------------------------------------------------


def test_mim_event_ids_are_exactly_microsofts() -> None:
    """101, 103 and 825 carry the level, source and meaning MIM's documentation gives them."""
    assert (EventId.MFA_NOT_COMPLETED, EventId.MFA_COMPLETED, EventId.PHONE_NUMBER_CHANGED) == (
        101,
        103,
        825,
    )
    assert EventId.MFA_NOT_COMPLETED.level is EventLevel.ERROR
    assert EventId.MFA_NOT_COMPLETED.source == "MIM Service"
    assert "did not complete Azure MFA" in EventId.MFA_NOT_COMPLETED.meaning
    assert EventId.MFA_COMPLETED.level is EventLevel.INFORMATION
    assert EventId.MFA_COMPLETED.source == "MIM Service"
    assert EventId.MFA_COMPLETED.meaning == "User completed Azure MFA during activation"
    assert EventId.PHONE_NUMBER_CHANGED.level is EventLevel.WARNING
    assert EventId.PHONE_NUMBER_CHANGED.source == "PAM Monitoring Service"
    assert EventId.PHONE_NUMBER_CHANGED.meaning == "Telephone number has been changed"
    assert {e for e in EventId if e.is_mim} == {101, 103, 825}


def test_pyampam_ids_stay_in_their_own_16_bit_range() -> None:
    """pyampam's lifecycle ids lie in 60100-60199, clear of MIM's, and fit a Windows event id."""
    own = [e for e in EventId if not e.is_mim]
    assert {e.name for e in own} >= {
        "REQUEST_CREATED",
        "REQUEST_SCHEDULED",
        "REQUEST_APPROVED",
        "REQUEST_REJECTED",
        "REQUEST_ACTIVATED",
        "REQUEST_CLOSED",
        "REQUEST_EXPIRED",
    }
    for event_id in own:
        assert event_id in PYAMPAM_EVENT_IDS
        assert event_id <= 0xFFFF
        assert event_id.source == "pyampam"
        assert event_id.meaning
    assert not set(PYAMPAM_EVENT_IDS) & {101, 103, 825}


def test_event_levels_use_windows_spelling() -> None:
    """Levels read Error, Warning and Information, as the Windows event log shows them."""
    assert [str(level) for level in EventLevel] == ["Error", "Warning", "Information"]


# --- the event -----------------------------------------------------------------------------------


def test_naive_time_is_refused() -> None:
    """An event's time must carry a time zone."""
    with pytest.raises(InvalidValueError, match="no time zone") as caught:
        event(time=dt.datetime(2024, 1, 15, 12))
    assert caught.value.field == "time"


def test_time_is_kept_in_utc() -> None:
    """A time in another zone is stored as the same instant in UTC."""
    paris = dt.timezone(dt.timedelta(hours=1))
    made = event(time=dt.datetime(2024, 1, 15, 13, tzinfo=paris))
    assert made.time == NOON
    assert made.time.tzinfo is UTC


def test_known_id_must_keep_its_level_and_source() -> None:
    """Event 101 cannot be recorded as a warning, nor as coming from pyampam."""
    with pytest.raises(InvalidValueError, match="always Error") as caught:
        event(event_id=101, level="Warning", source="MIM Service")
    assert caught.value.field == "level"
    with pytest.raises(InvalidValueError, match="always comes from 'MIM Service'"):
        event(event_id=101, level="Error", source="pyampam")


def test_unknown_id_is_kept_as_a_plain_int() -> None:
    """An id this version does not know is kept, and known_id says so."""
    made = event(event_id=4242, level="warning", source="someone else")
    assert made.event_id == 4242
    assert made.known_id is None
    assert made.level is EventLevel.WARNING
    assert event(event_id=60100).known_id is EventId.REQUEST_CREATED


@pytest.mark.parametrize("bad", [-1, 0x10000, True, 101.0, "101"])
def test_event_id_must_be_a_16_bit_int(bad: object) -> None:
    """An event id is a whole number from 0 to 65535, as Windows event ids are."""
    with pytest.raises(InvalidValueError, match="event_id"):
        event(event_id=bad)


@pytest.mark.parametrize("bad", ["Critical", 3, None])
def test_level_must_be_one_of_three(bad: object) -> None:
    """The level is Error, Warning or Information."""
    with pytest.raises(InvalidValueError, match="level"):
        event(event_id=4242, level=bad)


@pytest.mark.parametrize(
    ("field", "bad"),
    [
        ("source", ""),
        ("source", "MIM\nService"),
        ("message", "bell\x07"),
        ("message", "\ud800"),
        ("role_name", " "),
        ("user_id", str(JEN)),
        ("request_id", 42),
        ("call_result", ""),
    ],
)
def test_bad_field_values_are_refused(field: str, bad: object) -> None:
    """Blank names, control characters, lone surrogates and ids given as text are refused."""
    with pytest.raises(InvalidValueError) as caught:
        event(event_id=4242, **{field: bad})
    assert caught.value.field == field


def test_message_may_span_lines() -> None:
    """A message may hold line breaks and tabs (a provider's failure text may)."""
    assert event(message="first\nsecond\tthird").message == "first\nsecond\tthird"


@pytest.mark.parametrize(
    "key", ["pin", "PIN", "new_pin", "password", "CERT_PASSWORD", "groupKey", "license_key", "otp"]
)
def test_extra_refuses_keys_that_name_secrets(key: str) -> None:
    """Events are shipped in the clear, so extra refuses keys such as pin or group_key."""
    with pytest.raises(InvalidValueError, match="secret"):
        event(extra={key: "1234"})


def test_extra_allows_words_that_only_contain_secret_words() -> None:
    """Keys like 'shipping' or 'monkey' are not mistaken for secrets."""
    assert event(extra={"shipping": 1, "monkey": "x", "spinner": None}).extra["monkey"] == "x"


@pytest.mark.parametrize(
    "bad", [{"a": [1]}, {"a": {"b": 1}}, {"a": float("nan")}, {"a": float("inf")}, {1: "x"}, [1]]
)
def test_extra_holds_json_scalars_only(bad: object) -> None:
    """Extra values are str, int, float, bool or None; nothing nested, nothing JSON lacks."""
    with pytest.raises(InvalidValueError) as caught:
        event(extra=bad)
    assert caught.value.field == "extra"


def test_extra_is_frozen_hashable_and_picklable() -> None:
    """An event's extra cannot be changed behind its back, and the event survives pickling."""
    source = {"old_phone": "+1 2135551212"}
    made = event(extra=source)
    source["old_phone"] = "changed"
    assert made.extra == {"old_phone": "+1 2135551212"}
    with pytest.raises(TypeError):
        made.extra["old_phone"] = "x"  # type: ignore[index]
    assert hash(made) == hash(event(extra={"old_phone": "+1 2135551212"}))
    assert pickle.loads(pickle.dumps(made)) == made  # noqa: S301 - our own bytes


def test_event_has_no_field_for_a_secret() -> None:
    """The event's fields are exactly the documented ones: none could hold a PIN or a key."""
    assert [field.name for field in attrs.fields(PamEvent)] == [
        "event_id",
        "level",
        "source",
        "time",
        "message",
        "user_id",
        "role_id",
        "role_name",
        "request_id",
        "call_result",
        "extra",
    ]


def test_call_result_takes_the_enum_or_raw_text() -> None:
    """A CallResult is stored by its report name; unknown raw names are kept as given."""
    assert event(call_result=CallResult.FAILED_PHONE_BUSY).call_result == "FAILED_PHONE_BUSY"
    assert event(call_result="SOMETHING_NEW").call_result == "SOMETHING_NEW"


def test_mfa_not_completed_is_event_101() -> None:
    """The named constructor makes MIM's event 101 with the role and the call result."""
    made = PamEvent.mfa_not_completed(
        time=NOON,
        user_id=JEN,
        role_id=SQL,
        role_name="SQL admins",
        request_id=REQUEST,
        call_result=CallResult.FAILED_USER_HUNGUP_ON_US,
    )
    assert (made.event_id, made.level, made.source) == (101, EventLevel.ERROR, "MIM Service")
    assert (made.user_id, made.role_id, made.request_id) == (JEN, SQL, REQUEST)
    assert made.call_result == "FAILED_USER_HUNGUP_ON_US"
    assert made.message == (
        "User did not complete Azure MFA (role 'SQL admins'); call result: FAILED_USER_HUNGUP_ON_US"
    )


def test_mfa_completed_is_event_103() -> None:
    """The named constructor makes MIM's event 103; a message given is kept."""
    made = PamEvent.mfa_completed(time=NOON, user_id=JEN, role_name="SQL admins")
    assert (made.event_id, made.level, made.source) == (103, EventLevel.INFORMATION, "MIM Service")
    assert made.message == "User completed Azure MFA during activation (role 'SQL admins')"
    assert PamEvent.mfa_completed(time=NOON, user_id=JEN, message="ok").message == "ok"


def test_phone_number_changed_is_event_825_with_both_numbers() -> None:
    """Event 825 keeps the old and new number as text in extra and says who changed."""
    made = PamEvent.phone_number_changed(
        time=NOON,
        user_id=JEN,
        old=PhoneNumber(1, "2135551212"),
        new="+1 425 555 0100",
        source_identity="CORP\\jen",
    )
    assert (made.event_id, made.level) == (825, EventLevel.WARNING)
    assert made.source == "PAM Monitoring Service"
    assert made.extra == {
        "old_phone": "+1 2135551212",
        "new_phone": "+1 425 555 0100",
        "source_identity": "CORP\\jen",
    }
    assert made.message == (
        "Telephone number has been changed for CORP\\jen: +1 2135551212 -> +1 425 555 0100"
    )


def test_phone_number_removed_reads_none() -> None:
    """A number removed from the directory is recorded as None and shown as '(none)'."""
    made = PamEvent.phone_number_changed(time=NOON, user_id=JEN, old="2135551212", new=None)
    assert made.extra["new_phone"] is None
    assert made.message.endswith("2135551212 -> (none)")
    with pytest.raises(InvalidValueError, match="old"):
        PamEvent.phone_number_changed(time=NOON, user_id=JEN, old=12135551212, new=None)  # type: ignore[arg-type]


@pytest.mark.parametrize("event_id", [e for e in EventId if not e.is_mim])
def test_lifecycle_events_take_their_ids_from_the_request(event_id: EventId) -> None:
    """A lifecycle event carries the request's requestor, role and id, and the status reason."""
    request = make_request(status_reason="closed by CORP\\bob")
    made = PamEvent.lifecycle(event_id, time=NOON, request=request, role_name="SQL admins")
    assert (made.event_id, made.level, made.source) == (event_id, event_id.level, "pyampam")
    assert (made.user_id, made.role_id, made.request_id) == (JEN, SQL, REQUEST)
    assert made.message == f"{event_id.meaning} (role 'SQL admins'): closed by CORP\\bob"


@pytest.mark.parametrize("event_id", [EventId.MFA_COMPLETED, 60100, 4242])
def test_lifecycle_refuses_mim_and_raw_ids(event_id: object) -> None:
    """MIM's ids have their own constructors; lifecycle() takes the REQUEST_* ids only."""
    with pytest.raises(InvalidValueError, match="REQUEST_CREATED"):
        PamEvent.lifecycle(event_id, time=NOON, request=make_request())  # type: ignore[arg-type]


def test_lifecycle_refuses_a_non_request() -> None:
    """The request must be an ActivationRequest, not its id."""
    with pytest.raises(InvalidValueError, match="ActivationRequest"):
        PamEvent.lifecycle(EventId.REQUEST_CREATED, time=NOON, request=REQUEST)  # type: ignore[arg-type]


def test_str_is_one_readable_line() -> None:
    """str() gives the UTC time, level, id, source and message."""
    made = PamEvent.mfa_completed(time=NOON, user_id=JEN, message="done")
    assert str(made) == "2024-01-15T12:00:00.000000Z Information 103 [MIM Service] done"


def test_to_dict_is_json_with_utc_text_times() -> None:
    """to_dict() gives JSON-safe values: ids as text, the time as ISO-8601 UTC ending in Z."""
    data = PamEvent.mfa_not_completed(time=NOON, user_id=JEN, role_id=SQL).to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["time"] == "2024-01-15T12:00:00.000000Z"
    assert data["user_id"] == str(JEN)
    assert data["event_id"] == 101
    assert data["level"] == "Error"


@given(pam_events())
def test_to_dict_from_dict_round_trip(made: PamEvent) -> None:
    """Any event survives to_dict, JSON text and from_dict unchanged."""
    again = PamEvent.from_dict(json.loads(json.dumps(made.to_dict())))
    assert again == made
    assert again.to_dict() == made.to_dict()


def test_from_dict_accepts_offsets_and_ignores_unknown_keys() -> None:
    """Times with an offset are read as the same instant; keys from newer versions are ignored."""
    data = event().to_dict() | {"time": "2024-01-15T13:00:00+01:00", "future": 1}
    assert PamEvent.from_dict(data) == event()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"time": "2024-01-15T12:00:00"}, "time"),
        ({"time": "yesterday"}, "time"),
        ({"time": 1705320000}, "time"),
        ({"user_id": "not-a-guid"}, "user_id"),
        ({"role_id": 5}, "role_id"),
        ({"extra": [1]}, "extra"),
        ({"event_id": "101"}, "event_id"),
    ],
)
def test_from_dict_names_the_bad_field(change: dict[str, object], field: str) -> None:
    """A bad value read back from JSON raises InvalidValueError naming the field."""
    with pytest.raises(InvalidValueError) as caught:
        PamEvent.from_dict(event().to_dict() | change)
    assert caught.value.field == field


def test_from_dict_names_a_missing_key() -> None:
    """A dict without a required key says which one."""
    data = event().to_dict()
    del data["source"]
    with pytest.raises(InvalidValueError, match="'source'"):
        PamEvent.from_dict(data)


# --- sinks ---------------------------------------------------------------------------------------


def test_every_sink_satisfies_the_protocol(tmp_path: pathlib.Path) -> None:
    """MemorySink, JsonLinesSink and LoggingSink are all EventSinks."""
    file_sink = JsonLinesSink(tmp_path / "events.jsonl")
    for sink in (MemorySink(), file_sink, LoggingSink()):
        assert isinstance(sink, EventSink)
    file_sink.close()


def test_memory_sink_keeps_events_in_order() -> None:
    """MemorySink hands back what was written, oldest write first."""
    sink = MemorySink()
    first, second = event(message="one"), event(message="two")
    sink.write(first)
    sink.write(second)
    sink.close()
    assert sink.events == (first, second)


@pytest.mark.skipif(not POSIX, reason="file modes are POSIX")
def test_jsonl_file_is_created_owner_only(tmp_path: pathlib.Path) -> None:
    """The event file is created 0600 even under a permissive umask."""
    old = os.umask(0)
    try:
        sink = JsonLinesSink(tmp_path / "events.jsonl")
    finally:
        os.umask(old)
    sink.write(event())
    sink.close()
    assert stat.S_IMODE((tmp_path / "events.jsonl").stat().st_mode) == 0o600


def test_jsonl_writes_one_json_object_per_line(tmp_path: pathlib.Path) -> None:
    """Each event is one line of compact JSON, UTF-8, newline-terminated."""
    path = tmp_path / "events.jsonl"
    sink = JsonLinesSink(path)
    sink.write(event(message="Zoë"))
    sink.write(event(message="two\nlines"))
    sink.close()
    raw = path.read_bytes()
    assert raw.endswith(b"\n")
    lines = raw.decode("utf-8").splitlines()
    assert len(lines) == 2
    assert json.loads(lines[0])["message"] == "Zoë"
    assert json.loads(lines[1])["message"] == "two\nlines"


def test_jsonl_syncs_every_event_to_disk(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """write() returns only after the line has been fsynced: one fsync per event."""
    synced: list[int] = []
    real_fsync = os.fsync

    def spy(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    sink = JsonLinesSink(tmp_path / "events.jsonl")
    monkeypatch.setattr(os, "fsync", spy)
    for _ in range(3):
        sink.write(event())
    sink.close()
    assert len(synced) == 3


def test_jsonl_appends_to_an_existing_file(tmp_path: pathlib.Path) -> None:
    """A second sink on the same file adds to it; nothing written before is lost."""
    path = tmp_path / "events.jsonl"
    for message in ("first", "second"):
        sink = JsonLinesSink(path)
        sink.write(event(message=message))
        sink.close()
    assert [e.message for e in read_events(path)] == ["first", "second"]


def test_jsonl_ends_a_line_cut_short_by_a_crash(tmp_path: pathlib.Path) -> None:
    """A half-written last line is closed off, so the next event stays readable."""
    path = tmp_path / "events.jsonl"
    good = json.dumps(event(message="before").to_dict())
    path.write_text(good + "\n" + good[:30], encoding="utf-8")
    sink = JsonLinesSink(path)
    sink.write(event(message="after"))
    sink.close()
    skipped: list[EventLogError] = []
    events = list(read_events(path, strict=False, on_error=skipped.append))
    assert [e.message for e in events] == ["before", "after"]
    assert [error.line for error in skipped] == [2]


def test_jsonl_is_thread_safe(tmp_path: pathlib.Path) -> None:
    """Events written from many threads at once each land on a whole line of their own."""
    path = tmp_path / "events.jsonl"
    sink = JsonLinesSink(path)

    def work(thread: int) -> None:
        for number in range(50):
            sink.write(event(message=f"{thread}-{number}" + "x" * 500))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sink.close()
    messages = [e.message[:5].rstrip("x") for e in read_events(path)]
    assert sorted(messages) == sorted(f"{t}-{n}" for t in range(6) for n in range(50))


def test_jsonl_write_after_close_is_an_error(tmp_path: pathlib.Path) -> None:
    """A closed sink refuses events with EventLogError naming the file; closing twice is fine."""
    sink = JsonLinesSink(tmp_path / "events.jsonl")
    sink.close()
    sink.close()
    with pytest.raises(EventLogError, match="closed") as caught:
        sink.write(event())
    assert caught.value.path == str(tmp_path / "events.jsonl")


def test_jsonl_unopenable_path_is_an_event_log_error(tmp_path: pathlib.Path) -> None:
    """A path that cannot be opened (here a folder) gives EventLogError naming it."""
    with pytest.raises(EventLogError, match="cannot open the event file") as caught:
        JsonLinesSink(tmp_path)
    assert caught.value.path == str(tmp_path)
    assert isinstance(caught.value.__cause__, OSError)


@settings(max_examples=30, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(pam_events(), max_size=8))
def test_jsonl_round_trip(made: list[PamEvent]) -> None:
    """Whatever events are written to a JSON Lines file are read back equal, in order."""
    with tempfile.TemporaryDirectory() as folder:
        path = pathlib.Path(folder) / "events.jsonl"
        sink = JsonLinesSink(path)
        for one in made:
            sink.write(one)
        sink.close()
        assert list(read_events(path)) == made


def _write_lines(path: pathlib.Path, *lines: bytes) -> None:
    path.write_bytes(b"\n".join(lines) + b"\n")


@pytest.mark.parametrize(
    ("broken", "says"),
    [
        (b'{"event_id": 101, "level"', "not JSON"),
        (b"\xff\xfe garbage", "not UTF-8"),
        (b"[1, 2, 3]", "JSON list"),
        (b'{"event_id": 101}', "not a valid event"),
        (b"[" * 100_000, "not JSON"),
    ],
)
def test_broken_line_names_file_and_line(tmp_path: pathlib.Path, broken: bytes, says: str) -> None:
    """A broken line raises EventLogError with the file, the line number and what to do."""
    path = tmp_path / "events.jsonl"
    good = json.dumps(event().to_dict()).encode()
    _write_lines(path, good, b"", broken, good)
    with pytest.raises(EventLogError, match=says) as caught:
        list(read_events(path))
    assert (caught.value.path, caught.value.line) == (str(path), 3)
    assert str(caught.value).startswith(f"{path}:3: ")
    assert "strict=False" in str(caught.value)


def test_lenient_reading_skips_and_reports(tmp_path: pathlib.Path) -> None:
    """With strict=False a broken line is skipped and handed to on_error; the rest is read."""
    path = tmp_path / "events.jsonl"
    good = json.dumps(event().to_dict()).encode()
    _write_lines(path, good, b"nonsense", good, b"{}")
    skipped: list[EventLogError] = []
    events = list(read_events(path, strict=False, on_error=skipped.append))
    assert events == [event(), event()]
    assert [error.line for error in skipped] == [2, 4]


def test_lenient_reading_logs_a_warning_by_default(
    tmp_path: pathlib.Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Without on_error, a skipped line is logged on pyampam.events.read as a warning."""
    path = tmp_path / "events.jsonl"
    _write_lines(path, b"nonsense")
    with caplog.at_level(logging.WARNING, logger="pyampam.events.read"):
        assert list(read_events(path, strict=False)) == []
    assert [record.levelno for record in caplog.records] == [logging.WARNING]
    assert f"{path}:1:" in caplog.records[0].getMessage()


def test_reading_a_missing_file_is_an_event_log_error(tmp_path: pathlib.Path) -> None:
    """A file that is not there raises EventLogError, even with strict=False."""
    with pytest.raises(EventLogError, match="cannot read the event file"):
        list(read_events(tmp_path / "missing.jsonl", strict=False))


def test_logging_sink_maps_levels_and_fields(caplog: pytest.LogCaptureFixture) -> None:
    """Error, Warning and Information become ERROR, WARNING and INFO, with pam_* extras."""
    sink = LoggingSink()
    made = [
        PamEvent.mfa_not_completed(time=NOON, user_id=JEN, call_result="FAILED_SERVER_ERROR"),
        PamEvent.phone_number_changed(time=NOON, user_id=JEN, old="2135551212", new=None),
        PamEvent.mfa_completed(time=NOON, user_id=JEN, role_id=SQL),
    ]
    with caplog.at_level(logging.INFO, logger="pyampam.events"):
        for one in made:
            sink.write(one)
    sink.close()
    records = caplog.records
    assert [r.levelno for r in records] == [logging.ERROR, logging.WARNING, logging.INFO]
    assert [r.name for r in records] == ["pyampam.events"] * 3
    first = records[0]
    assert first.getMessage() == f"{made[0].message} (event 101, MIM Service)"
    assert first.pam_event is made[0]  # type: ignore[attr-defined]
    assert first.pam_event_id == 101  # type: ignore[attr-defined]
    assert first.pam_user_id == str(JEN)  # type: ignore[attr-defined]
    assert first.pam_call_result == "FAILED_SERVER_ERROR"  # type: ignore[attr-defined]
    assert records[1].pam_extra == {"old_phone": "2135551212", "new_phone": None}  # type: ignore[attr-defined]


def test_logging_sink_uses_the_logger_given(caplog: pytest.LogCaptureFixture) -> None:
    """LoggingSink(logger) writes to that logger."""
    logger = logging.getLogger("my.audit")
    with caplog.at_level(logging.INFO, logger="my.audit"):
        LoggingSink(logger).write(event())
    assert [r.name for r in caplog.records] == ["my.audit"]


# --- the log -------------------------------------------------------------------------------------


class _BrokenSink:
    def __init__(self) -> None:
        self.closed = False

    def write(self, event: PamEvent) -> None:
        raise OSError(28, "No space left on device")

    def close(self) -> None:
        self.closed = True
        raise OSError(5, "I/O error")


def test_default_log_is_memory_only() -> None:
    """EventLog() keeps events in memory: len, iteration and query see them."""
    log = EventLog()
    log.record(event())
    assert log.sinks == ()
    assert len(log) == 1
    assert list(log) == [event()]
    assert log.query(user=JEN) == [event()]


def test_record_writes_to_every_sink(tmp_path: pathlib.Path) -> None:
    """Each recorded event reaches every sink in turn."""
    first, second = MemorySink(), MemorySink()
    with EventLog(first, second, JsonLinesSink(tmp_path / "e.jsonl")) as log:
        log.record(event())
    assert first.events == second.events == (event(),)
    assert list(read_events(tmp_path / "e.jsonl")) == [event()]


def test_failing_sink_raises_after_the_others_got_the_event() -> None:
    """A sink that fails does not stop the others; EventSinkError then names it and its error."""
    before, after = MemorySink(), MemorySink()
    broken = _BrokenSink()
    log = EventLog(before, broken, after)
    with pytest.raises(EventSinkError, match="No space left on device") as caught:
        log.record(event())
    assert before.events == after.events == (event(),)
    assert log.query() == [event()]
    assert [sink for sink, _ in caught.value.failures] == [broken]
    assert isinstance(caught.value.__cause__, OSError)
    assert isinstance(caught.value, PyampamError)


def test_close_closes_every_sink_and_reports_failures(tmp_path: pathlib.Path) -> None:
    """close() closes each sink even when one fails, then raises; recording afterwards fails."""
    broken = _BrokenSink()
    file_sink = JsonLinesSink(tmp_path / "e.jsonl")
    log = EventLog(broken, file_sink)
    with pytest.raises(EventSinkError, match="I/O error"):
        log.close()
    assert broken.closed
    with pytest.raises(EventLogError, match="closed"):
        file_sink.write(event())
    with pytest.raises(EventLogError, match="closed"):
        log.record(event())
    log.close()  # a second close does nothing


def test_log_without_memory_only_forwards() -> None:
    """With memory=False events go to the sinks, and the log refuses to answer queries."""
    sink = MemorySink()
    log = EventLog(sink, memory=False)
    log.record(event())
    assert sink.events == (event(),)
    assert log
    for ask in (log.query, lambda: len(log), lambda: list(log)):
        with pytest.raises(EventLogError, match="memory=False"):
            ask()


def test_log_refuses_what_is_not_a_sink_or_an_event() -> None:
    """Sinks need write() and close(); record() takes PamEvents only."""
    with pytest.raises(InvalidValueError, match="write"):
        EventLog(object())  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError, match="PamEvent"):
        EventLog().record(event().to_dict())  # type: ignore[arg-type]


def test_query_filters() -> None:
    """Each filter narrows the results: id, user, role (object, id or name), request, times."""
    jen = User(object_id=JEN, source_domain="CORP", source_account_name="jen")
    sql = Role(role_id=SQL, display_name="SQL admins", ttl=dt.timedelta(hours=1))
    a = PamEvent.mfa_completed(time=NOON, user_id=JEN, role_id=SQL, role_name="SQL admins")
    b = PamEvent.mfa_not_completed(time=NOON + dt.timedelta(minutes=1), user_id=BOB)
    c = PamEvent.lifecycle(
        EventId.REQUEST_CREATED,
        time=NOON + dt.timedelta(minutes=2),
        request=make_request(),
        role_name="SQL admins",
    )
    log = EventLog()
    for one in (a, b, c):
        log.record(one)
    assert log.query(event_id=103) == [a]
    assert log.query(event_id=EventId.MFA_NOT_COMPLETED) == [b]
    assert log.query(event_id=[101, 103]) == [a, b]
    assert log.query(user=jen) == log.query(user=JEN) == [a, c]
    assert log.query(role=sql) == log.query(role=SQL) == [a, c]
    assert log.query(role="sql ADMINS") == [a, c]
    assert log.query(role="nobody") == []
    assert log.query(request=REQUEST) == log.query(request=make_request()) == [c]
    assert log.query(since=NOON + dt.timedelta(minutes=1)) == [b, c]
    assert log.query(until=NOON + dt.timedelta(minutes=1)) == [a]
    assert log.query(user=JEN, event_id=103, since=NOON, until=NOON + dt.timedelta(hours=1)) == [a]


def test_query_returns_oldest_first_when_recorded_out_of_order() -> None:
    """Events recorded late still come back in time order; equal times keep recording order."""
    log = EventLog()
    late, early = event(time=NOON + dt.timedelta(hours=1)), event(time=NOON, message="early")
    same = event(time=NOON, message="same time, recorded later")
    for one in (late, early, same):
        log.record(one)
    assert log.query() == [early, same, late]
    assert log.query(since=NOON, until=NOON + dt.timedelta(hours=1)) == [early, same]
    assert list(log) == [early, same, late]


@pytest.mark.parametrize(
    ("filters", "field"),
    [
        ({"since": dt.datetime(2024, 1, 1)}, "since"),
        ({"until": "2024-01-01"}, "until"),
        ({"user": "jen"}, "user"),
        ({"role": 5}, "role"),
        ({"request": "x"}, "request"),
        ({"event_id": "101"}, "event_id"),
        ({"event_id": [101, True]}, "event_id"),
    ],
)
def test_query_refuses_bad_filters(filters: dict[str, object], field: str) -> None:
    """Naive times and filters of the wrong type are refused, naming the filter."""
    with pytest.raises(InvalidValueError) as caught:
        EventLog().query(**filters)  # type: ignore[arg-type]
    assert caught.value.field == field


_FEW_USERS = st.sampled_from([JEN, BOB, None])
_FEW_ROLES = st.sampled_from([SQL, None, uuid.UUID(int=9)])
_FEW_NAMES = st.sampled_from(["SQL admins", "sql ADMINS", "Web", None])
_FEW_TIMES = st.integers(0, 20).map(lambda minutes: NOON + dt.timedelta(minutes=minutes))


@settings(max_examples=150, deadline=None)
@given(
    events=st.lists(
        pam_events(users=_FEW_USERS, roles=_FEW_ROLES, role_names=_FEW_NAMES, times=_FEW_TIMES),
        max_size=25,
    ),
    in_order=st.booleans(),
    data=st.data(),
)
def test_query_equals_brute_force_filter(
    events: list[PamEvent], in_order: bool, data: st.DataObject
) -> None:
    """Whatever the events and filters, query() returns what a plain filter and sort would."""
    # Bounds are drawn mostly from the events' own times, so the edges get tested.
    bounds = st.none() | _FEW_TIMES | st.sampled_from([one.time for one in events] or [NOON])
    filters: dict[str, Any] = data.draw(
        st.fixed_dictionaries(
            {
                # None twice: every filter left out often enough for the others to matter.
                "event_id": st.sampled_from([None, None, 101, 103, 825, 60100, [101, 60100]]),
                "user": st.sampled_from([None, None, JEN, BOB]),
                "role": st.sampled_from([None, None, SQL, "sql admins", "web"]),
                "since": bounds,
                "until": bounds,
            }
        )
    )
    event_id, user, role = filters["event_id"], filters["user"], filters["role"]
    since, until = filters["since"], filters["until"]
    if in_order:
        events = sorted(events, key=lambda one: one.time)
    log = EventLog()
    for one in events:
        log.record(one)
    ids = None if event_id is None else {event_id} if isinstance(event_id, int) else set(event_id)

    def wanted(one: PamEvent) -> bool:
        role_ok = (
            role is None
            or (isinstance(role, uuid.UUID) and one.role_id == role)
            or (
                isinstance(role, str)
                and one.role_name is not None
                and one.role_name.casefold() == role.casefold()
            )
        )
        return (
            (ids is None or one.event_id in ids)
            and (user is None or one.user_id == user)
            and role_ok
            and (since is None or one.time >= since)
            and (until is None or one.time < until)
        )

    expected = sorted((one for one in events if wanted(one)), key=lambda one: one.time)
    got = log.query(**filters)
    assert [id(one) for one in got] == [id(one) for one in expected]


def test_query_cost_follows_the_result_on_100k_events(monkeypatch: pytest.MonkeyPatch) -> None:
    """Over 100,000 events, queries by user, time and role name look only at what they return.

    The indexes hand the query its candidates; each candidate is then checked once against the
    filters. Counting those checks shows the cost follows the result, not the log: a scan
    would check all 100,000 events. (How long the queries take is a benchmark figure.)
    """
    users = [uuid.UUID(int=n) for n in range(200)]
    template = PamEvent.mfa_completed(time=NOON, user_id=JEN, role_name="SQL admins")
    log = EventLog()
    for n in range(100_000):
        log.record(
            attrs.evolve(template, time=NOON + dt.timedelta(seconds=n), user_id=users[n % 200])
        )
    checked = 0
    matches = _Query.matches

    def counting(self: _Query, event: PamEvent) -> bool:
        nonlocal checked
        checked += 1
        return matches(self, event)

    monkeypatch.setattr(_Query, "matches", counting)

    def query(**filters: Any) -> list[PamEvent]:
        nonlocal checked
        checked = 0
        found = log.query(**filters)
        assert checked == len(found), (filters, checked, len(found))
        return found

    half_way = NOON + dt.timedelta(seconds=50_000)
    for user in users[:50]:
        # The user's index holds 500 events; the time bisection keeps the later 250.
        found = query(user=user, since=half_way)
        assert len(found) == 250
        assert {event.user_id for event in found} == {user}
        assert all(event.time >= half_way for event in found)
    assert len(query(until=NOON + dt.timedelta(seconds=10))) == 10
    assert len(query(event_id=103, role="sql admins")) == 100_000


def test_from_jsonl_loads_a_queryable_log(tmp_path: pathlib.Path) -> None:
    """EventLog.from_jsonl() reads a file back and answers queries; the file is left alone."""
    path = tmp_path / "events.jsonl"
    with EventLog(JsonLinesSink(path)) as log:
        log.record(PamEvent.mfa_completed(time=NOON, user_id=JEN))
        log.record(PamEvent.mfa_not_completed(time=NOON, user_id=BOB))
    size = path.stat().st_size
    loaded = EventLog.from_jsonl(path)
    assert [e.event_id for e in loaded.query(user=BOB)] == [101]
    assert len(loaded) == 2
    loaded.record(event())
    assert path.stat().st_size == size


def test_from_jsonl_can_carry_on_appending(tmp_path: pathlib.Path) -> None:
    """With append=True the loaded log writes new events to the same file."""
    path = tmp_path / "events.jsonl"
    with EventLog(JsonLinesSink(path)) as log:
        log.record(event(message="before restart"))
    with EventLog.from_jsonl(path, append=True) as log:
        log.record(event(message="after restart"))
        assert len(log) == 2
    assert [e.message for e in read_events(path)] == ["before restart", "after restart"]


def test_from_jsonl_append_starts_a_missing_file(tmp_path: pathlib.Path) -> None:
    """On a first start there is no file yet: append=True creates it, without it is an error."""
    path = tmp_path / "events.jsonl"
    with pytest.raises(EventLogError, match="cannot read"):
        EventLog.from_jsonl(path)
    with EventLog.from_jsonl(path, append=True) as log:
        assert len(log) == 0
        log.record(event())
    assert list(read_events(path)) == [event()]


_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text()
    | st.sampled_from(["0001-01-01T00:00:00+01:00", "2024-01-15T12:00:00Z", str(JEN), "Error"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(list(event().to_dict())), _json_values, max_size=4))
def test_any_json_line_is_an_event_or_an_event_log_error(changes: dict[str, object]) -> None:
    """Whatever JSON a line holds, reading it gives an event or EventLogError, nothing else."""
    with tempfile.TemporaryDirectory() as folder:
        path = pathlib.Path(folder) / "events.jsonl"
        path.write_text(json.dumps(event().to_dict() | changes) + "\n", encoding="utf-8")
        errors: list[EventLogError] = []
        list(read_events(path, strict=False, on_error=errors.append))
        assert all(error.line == 1 for error in errors)


def test_from_jsonl_strict_and_lenient(tmp_path: pathlib.Path) -> None:
    """A broken line stops from_jsonl unless strict=False, which skips and reports it."""
    path = tmp_path / "events.jsonl"
    _write_lines(path, json.dumps(event().to_dict()).encode(), b"{broken")
    with pytest.raises(EventLogError) as caught:
        EventLog.from_jsonl(path)
    assert caught.value.line == 2
    skipped: list[EventLogError] = []
    assert len(EventLog.from_jsonl(path, strict=False, on_error=skipped.append)) == 1
    assert len(skipped) == 1


def test_event_log_error_pickles_and_reads_well() -> None:
    """EventLogError keeps its path and line through pickling and shows them first in str()."""
    error = EventLogError("the line is not JSON", path="events.jsonl", line=7)
    again = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes
    assert (again.path, again.line, str(again)) == (
        "events.jsonl",
        7,
        "events.jsonl:7: the line is not JSON",
    )
    assert str(EventLogError("x", line=3)) == "line 3: x"
    data = pickle.dumps(EventSinkError("failed", failures=((1, OSError()),)))
    sink_error = pickle.loads(data)  # noqa: S301 - our own bytes, made one line above
    assert str(sink_error) == "failed"


@given(activation_requests(), roles())
def test_lifecycle_accepts_any_request(request: ActivationRequest, role: Role) -> None:
    """lifecycle() builds a valid, round-tripping event from any valid request."""
    made = PamEvent.lifecycle(
        EventId.REQUEST_ACTIVATED, time=NOON, request=request, role_name=role.display_name
    )
    assert made.request_id == request.request_id
    assert PamEvent.from_dict(made.to_dict()) == made


def test_importing_events_stays_light() -> None:
    """`import pyampam.events` loads neither attrs nor the domain until a name is used."""
    code = (
        "import sys, pyampam.events; "
        "print(sorted(m for m in sys.modules if m.startswith(('attr', 'pyampam._model'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    assert out.strip() == "[]"
