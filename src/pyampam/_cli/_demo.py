"""``pyampam demo``: the story of "Using Azure MFA for activation", played on a throw-away store."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from pyampam._cli import _output, _values
from pyampam._cli._context import DB_FILE_NAME, events_path, prepare_folder
from pyampam._secrets import MASK
from pyampam.exceptions import PamError

if TYPE_CHECKING:
    from pyampam._model import ActivationRequest, Role, User
    from pyampam.activation import PamService
    from pyampam.directory import MemoryDirectory
    from pyampam.events import MemorySink, PamEvent
    from pyampam.testing import FakeProvider

__all__ = ["DEMO_PIN", "DEMO_START", "register", "run_demo"]

UTC = dt.timezone.utc
#: The demo's clock starts here (MIM 2016's year), so its output is the same on every run.
DEMO_START = dt.datetime(2016, 6, 1, 9, 0, tzinfo=UTC)
#: Jen's MFA PIN: stored to show that it is never printed (the tests look for it).
DEMO_PIN = "8675309421"

_JEN_PHONE = "+1 (425) 555-0100"
_JEN_NEW_PHONE = "+1 (425) 555-0199"
_KEN_PHONE = "+1 (425) 555-0142"


class _ManualClock:
    """The service's clock in the demo: it moves only when the story says time passes."""

    def __init__(self, start: dt.datetime) -> None:
        self._now = start

    def __call__(self) -> dt.datetime:
        return self._now

    def advance(self, **amount: float) -> None:
        self._now += dt.timedelta(**amount)


@attrs.frozen
class Step:
    """One moment of the story: when, what happened, and the events it recorded."""

    time: dt.datetime
    action: str
    summary: str
    details: tuple[str, ...]
    events: tuple[PamEvent, ...]

    def to_dict(self) -> dict[str, Any]:
        """The step as JSON: the time in ISO 8601 UTC, the events' ids, levels and sources."""
        return {
            "time": _output.utc_text(self.time),
            "action": self.action,
            "summary": self.summary,
            "details": list(self.details),
            "events": [
                {
                    "event_id": int(event.event_id),
                    "level": event.level.value,
                    "source": event.source,
                    "call_result": event.call_result,
                }
                for event in self.events
            ],
        }


class _Story:
    """Plays the article's story against a service and writes down each step."""

    def __init__(
        self,
        service: PamService,
        provider: FakeProvider,
        clock: _ManualClock,
        sink: MemorySink,
        directory: MemoryDirectory,
    ) -> None:
        self.service = service
        self.provider = provider
        self.clock = clock
        self.sink = sink
        self.directory = directory
        self.steps: list[Step] = []
        self._seen = 0

    def note(self, action: str, summary: str, *details: str) -> None:
        events = self.sink.events[self._seen :]
        self._seen += len(events)
        self.steps.append(Step(self.clock(), action, summary, tuple(details), tuple(events)))

    def holds(self, user: User) -> str:
        groups = sorted(self.service.privileges_of(user))
        return ", ".join(groups) if groups else "nothing"

    def outcome(self, request: ActivationRequest) -> str:
        until = ""
        if request.status.value == "Active" and request.expiration_time is not None:
            until = f" until {request.expiration_time.strftime('%H:%M')}"
        return f"-> {request.status.value}{until}"

    def call_result(self) -> str:
        """The call result of the last MFA event, with what it means."""
        from pyampam.providers import CallResult

        for event in reversed(self.sink.events):
            if event.call_result is not None:
                known = CallResult.from_name(event.call_result)
                meaning = "" if known is None else f" ({known.description})"
                return f"call result {event.call_result}{meaning}"
        return "no call result"

    def play(self) -> None:
        from pyampam.directory import DirectoryEntry
        from pyampam.providers import CallResult

        service, clock, directory = self.service, self.clock, self.directory
        directory.add(
            DirectoryEntry(
                source_domain="CORP",
                source_account_name="jen",
                display_name="Jen",
                phone=_JEN_PHONE,
            )
        )
        directory.add(
            DirectoryEntry(
                source_domain="CORP",
                source_account_name="ken",
                display_name="Ken",
                phone=_KEN_PHONE,
            )
        )
        self.note(
            "directory",
            f"The CORP directory holds CORP\\jen (Jen), telephoneNumber {_JEN_PHONE}",
            "and CORP\\ken (Ken), who will own a role",
        )

        jen = service.new_user("CORP", "jen", directory=directory, pin=DEMO_PIN)
        ken = service.new_user("CORP", "ken", directory=directory)
        self.note(
            "new_user",
            f"New-PAMUser CORP\\jen: phone {jen.phone} copied once from the directory",
            f"privileged account {jen.privileged_account_name}; MFA PIN {MASK} (stored, never "
            "shown)",
            f"New-PAMUser CORP\\ken: phone {ken.phone}",
        )

        clock.advance(minutes=1)
        sql = service.new_role(
            "SQL File Access",
            candidates=[jen],
            privileges=["SQL File Admins"],
            ttl=dt.timedelta(hours=1),
            mfa_enabled=True,
        )
        self.note("new_role", *_role_lines(sql, "MFA enabled: every candidate has a phone"))

        clock.advance(minutes=4)
        # The provider sees the user's object GUID as the user name, as Azure MFA's report does.
        self.provider.script(str(jen.object_id), CallResult.SUCCESS_NO_PIN_BUT_TIMEOUT)
        first = service.request_activation(jen, sql, justification="Restore last night's backup")
        self.note(
            "request_activation",
            f'Jen requests "SQL File Access" (request {_output.short_id(first.request_id)}); '
            f"Azure MFA calls {jen.phone}",
            f"Jen does not answer: {self.call_result()}",
            f"{self.outcome(first)}; Jen holds {self.holds(jen)}",
        )

        clock.advance(minutes=2)
        second = service.request_activation(
            jen, sql, justification="Restore last night's backup (second try)"
        )
        self.note(
            "request_activation",
            f'Jen requests "SQL File Access" again (request '
            f"{_output.short_id(second.request_id)}) and answers the call, pressing #",
            f"{self.call_result()}",
            f"{self.outcome(second)}; Jen holds {self.holds(jen)}",
        )

        clock.advance(minutes=23)
        directory.set_phone("CORP", "jen", _JEN_NEW_PHONE)
        self.note("directory", f"Jen's telephoneNumber changes in CORP to {_JEN_NEW_PHONE}")
        changes = service.monitor_phones(directory)
        self.note(
            "monitor_phones",
            "The PAM Monitoring Service compares the stored numbers with the directory's",
            *(f"{change.source_identity}: {change.old} -> {change.new}" for change in changes),
            "MIM copied the number only once, so the stored number is unchanged",
        )

        clock.advance(minutes=1)
        jen = service.set_user(jen, phone=_JEN_NEW_PHONE)
        self.note(
            "set_user",
            f"Set-PAMUser CORP\\jen -SourcePhoneNumber {jen.phone.mim_form if jen.phone else ''}",
            "the administrator stores the new number in MIM; the directory is not touched",
        )

        clock.advance(minutes=9)
        finance = service.new_role(
            "Finance Share Access",
            candidates=[jen],
            approvers=[ken],
            privileges=["Finance Share Admins"],
            ttl=dt.timedelta(hours=1),
            approval_enabled=True,
        )
        self.note("new_role", *_role_lines(finance, "approval by its owner CORP\\ken"))

        clock.advance(minutes=5)
        pending = service.request_activation(jen, finance, justification="Quarter-end audit")
        self.note(
            "request_activation",
            f'Jen requests "Finance Share Access" (request {_output.short_id(pending.request_id)})',
            f"{self.outcome(pending)}: waiting for a role owner",
        )

        clock.advance(minutes=5)
        approved = service.approve(pending, ken)
        self.note(
            "approve",
            "Ken approves Jen's request",
            f"{self.outcome(approved)}; Jen holds {self.holds(jen)}",
        )

        clock.advance(hours=1, minutes=10)
        started = service.start_due()
        expired = service.expire_due()
        names = {role.role_id: role.display_name for role in (sql, finance)}
        self.note(
            "expire_due",
            "Time passes: the TTLs run out",
            *(f'"{names[request.role_id]}" -> {request.status.value}' for request in expired),
            *(f'"{names[request.role_id]}" started' for request in started),
            f"Jen holds {self.holds(jen)}",
        )


def _role_lines(role: Role, checks: str) -> tuple[str, str]:
    ttl = _values.format_duration(role.ttl)
    return (
        f'New-PAMRole "{role.display_name}": grants {", ".join(role.privileges)} for {ttl}',
        f"candidate CORP\\jen; {checks}",
    )


def run_demo(folder: Path) -> tuple[list[Step], list[PamEvent]]:
    """Play the story in a store and an event file in *folder*; the steps and the events.

    The service runs on a manual clock from :data:`DEMO_START` with a fake MFA provider.
    """
    from pyampam.activation import PamService
    from pyampam.directory import MemoryDirectory
    from pyampam.events import EventLog, JsonLinesSink, MemorySink, read_events
    from pyampam.store import SqliteStore
    from pyampam.testing import FakeProvider

    database = folder / DB_FILE_NAME
    clock = _ManualClock(DEMO_START)
    provider = FakeProvider()
    sink = MemorySink()
    with contextlib.ExitStack() as stack:
        store = stack.enter_context(SqliteStore(database))
        log = stack.enter_context(EventLog(JsonLinesSink(events_path(database)), sink))
        service = stack.enter_context(
            PamService(store=store, provider=provider, clock=clock, event_log=log)
        )
        story = _Story(service, provider, clock, sink, MemoryDirectory())
        story.play()
    return story.steps, list(read_events(events_path(database)))


def _annotated(events: Iterable[PamEvent]) -> str:
    shown = []
    for event in events:
        if event.known_id is not None and event.known_id.is_mim:
            shown.append(f"{int(event.event_id)} ({event.level.value}, {event.source})")
        else:
            shown.append(str(int(event.event_id)))
    return ", ".join(shown)


def _print_text(steps: list[Step], events: list[PamEvent], kept: Path | None) -> None:
    print('pyampam demo: "Using Azure MFA for activation" (MIM 2016 PAM), played end to end')
    where = f"a SQLite store in {kept}" if kept else "a temporary SQLite store"
    print(
        f"With {where}, a fake MFA provider and a manual clock from "
        f"{DEMO_START.strftime('%Y-%m-%d %H:%M')} UTC."
    )
    print()
    for step in steps:
        print(f"{step.time.strftime('%H:%M')}  {step.summary}")
        for detail in step.details:
            print(f"       {detail}")
        if step.events:
            print(f"       events: {_annotated(step.events)}")
    print()
    print('The "Privileged Access Management" event log, read back from its JSON Lines file:')
    _output.print_table(
        ("TIME", "ID", "LEVEL", "SOURCE", "MESSAGE"),
        (
            [
                event.time.strftime("%H:%M"),
                str(int(event.event_id)),
                event.level.value,
                event.source,
                event.message,
            ]
            for event in events
        ),
    )
    print()
    if kept is not None:
        print(f"Kept {kept / DB_FILE_NAME} and {events_path(kept / DB_FILE_NAME).name} beside it;")
        print(f"look around with: pyampam --db {kept / DB_FILE_NAME} request list")
    else:
        print("The temporary store is gone. Keep one with: pyampam demo --keep DIR")


def _keep_folder(text: str) -> Path:
    folder = Path(text)
    for existing in (folder / DB_FILE_NAME, events_path(folder / DB_FILE_NAME)):
        if existing.exists():
            raise PamError(
                f"{existing} already exists and the demo would mix its story into it; give "
                "--keep an empty or new folder"
            )
    prepare_folder(folder)
    return folder


def _demo(args: argparse.Namespace) -> int:
    with contextlib.ExitStack() as stack:
        if args.keep is not None:
            folder = kept = _keep_folder(args.keep)
        else:
            kept = None
            folder = Path(tempfile.mkdtemp(prefix="pyampam-demo-"))
            stack.callback(shutil.rmtree, folder, ignore_errors=True)
        steps, events = run_demo(folder)
    if args.json:
        _output.print_json(
            {
                "start": _output.utc_text(DEMO_START),
                "kept": None if kept is None else os.fspath(kept / DB_FILE_NAME),
                "timeline": [step.to_dict() for step in steps],
                "events": [event.to_dict() for event in events],
            }
        )
    else:
        _print_text(steps, events, kept)
    return 0


def register(commands: Any) -> None:
    """Add the ``demo`` command to the top-level subparsers."""
    demo = commands.add_parser(
        "demo",
        help="play the MIM PAM + Azure MFA story in a throw-away store",
        description=(
            "Play the story of 'Using Azure MFA for activation' end to end: a CORP directory, "
            "New-PAMUser copying Jen's phone, an MFA role, an unanswered call (event 101), an "
            "answered one (event 103), a changed phone number (event 825), a role with "
            "approval, and expiry. Runs in a temporary SQLite store (deleted afterwards) with "
            "a fake MFA provider and a manual clock, so it takes a moment and places no call."
        ),
    )
    demo.add_argument(
        "--keep",
        metavar="DIR",
        type=_values.path_argument,
        help="keep the store and its event file in DIR (a new or empty folder)",
    )
    demo.add_argument("--json", action="store_true", help="print the timeline as one JSON document")
    demo.set_defaults(handler=_demo, command_parser=demo)
