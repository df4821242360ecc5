"""Where events go: memory, an append-only JSON Lines file, or Python logging; and the reader."""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Iterator
from typing import Protocol, runtime_checkable

from pyampam.events._event import EventLevel, EventLogError, PamEvent
from pyampam.exceptions import InvalidValueError

__all__ = [
    "EventSink",
    "JsonLinesSink",
    "LoggingSink",
    "MemorySink",
    "read_events",
]

_PRIVATE_MODE = 0o600
# Without O_BINARY, Windows would turn each "\n" into "\r\n" behind our back.
_APPEND_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0)

_read_logger = logging.getLogger("pyampam.events.read")


def _os_error(action: str, path: str, error: OSError) -> EventLogError:
    reason = error.strerror or type(error).__name__
    return EventLogError(
        f"cannot {action}: {reason}; check the path and the permissions of its folder", path=path
    )


@runtime_checkable
class EventSink(Protocol):
    """Something that keeps events: a file, a logger, a list, a SIEM forwarder.

    ``write`` must be safe to call from several threads (the :class:`EventLog` serializes its
    own calls, but a sink may be shared). ``close`` releases what the sink holds; writing to a
    closed sink raises :class:`EventLogError`.
    """

    def write(self, event: PamEvent) -> None:
        """Keep *event*, or raise."""
        ...

    def close(self) -> None:
        """Release the sink's resources; calling it twice does nothing."""
        ...


class MemorySink:
    """Events kept in a list, in the order written: for tests and short-lived tools."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: list[PamEvent] = []

    def __repr__(self) -> str:
        return f"MemorySink(events={len(self._events)})"

    @property
    def events(self) -> tuple[PamEvent, ...]:
        """A snapshot of the events written so far, oldest write first."""
        with self._lock:
            return tuple(self._events)

    def write(self, event: PamEvent) -> None:
        """Append *event* to the list."""
        with self._lock:
            self._events.append(event)

    def close(self) -> None:
        """Nothing to release: the events stay readable."""


class JsonLinesSink:
    """An append-only JSON Lines file: one event per line, on disk before ``write`` returns.

    The file is created owner-only (``0600`` on POSIX); an existing file is appended to and its
    mode left alone. Each event is one ``write`` of a whole line followed by ``fsync``, so a
    crash loses at most the event being written, and a line cut short by a crash is ended
    before the next event is added rather than corrupting it. Thread safe. Read the file back
    with :func:`read_events` or :meth:`EventLog.from_jsonl`.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._path = os.fspath(path)
        self._lock = threading.Lock()
        self._fd: int | None = None
        try:
            fd = os.open(self._path, _APPEND_FLAGS, _PRIVATE_MODE)
        except OSError as error:
            raise _os_error("open the event file for appending", self._path, error) from error
        try:
            _end_cut_line(fd, self._path)
        except OSError as error:
            os.close(fd)
            raise _os_error("check the end of the event file", self._path, error) from error
        self._fd = fd

    def __repr__(self) -> str:
        state = "closed" if self._fd is None else "open"
        return f"JsonLinesSink({self._path!r}, {state})"

    @property
    def path(self) -> str:
        """The file the events go to."""
        return self._path

    def _write_bytes(self, data: bytes) -> None:
        fd = self._fd
        if fd is None:
            raise EventLogError("the event file is closed; open a new sink", path=self._path)
        _write_all(fd, data)

    def write(self, event: PamEvent) -> None:
        """Append *event* as one line and wait until it is on disk."""
        if not isinstance(event, PamEvent):
            raise InvalidValueError(
                f"event must be a PamEvent, not {type(event).__name__}", field="event"
            )
        line = json.dumps(event.to_dict(), ensure_ascii=False, separators=(",", ":"))
        data = (line + "\n").encode("utf-8")
        with self._lock:
            try:
                self._write_bytes(data)
            except OSError as error:
                raise _os_error("append to the event file", self._path, error) from error

    def close(self) -> None:
        """Close the file; later writes raise :class:`EventLogError`."""
        with self._lock:
            fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
    os.fsync(fd)


def _end_cut_line(fd: int, path: str) -> None:
    # A crash in the middle of a write leaves a line without its newline; without this, the
    # next event would be glued to it and both would be unreadable.
    size = os.fstat(fd).st_size
    if size == 0:
        return
    with open(path, "rb") as reader:
        reader.seek(size - 1)
        last = reader.read(1)
    if last != b"\n":
        _write_all(fd, b"\n")


_LOGGING_LEVELS = {
    EventLevel.ERROR: logging.ERROR,
    EventLevel.WARNING: logging.WARNING,
    EventLevel.INFORMATION: logging.INFO,
}


class LoggingSink:
    """Events as Python log records: Error, Warning and Information become ERROR, WARNING, INFO.

    The record's message reads ``message (event 101, MIM Service)``. Its ``extra`` holds the
    event as ``pam_event`` and each field with a ``pam_`` prefix (``pam_event_id``,
    ``pam_level``, ``pam_source``, ``pam_time``, ``pam_message``, ``pam_user_id``,
    ``pam_role_id``, ``pam_role_name``, ``pam_request_id``, ``pam_call_result``, ``pam_extra``),
    as JSON-safe values: the prefix keeps them clear of the record's own ``message``.
    """

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._logger = logging.getLogger("pyampam.events") if logger is None else logger

    def __repr__(self) -> str:
        return f"LoggingSink({self._logger.name!r})"

    @property
    def logger(self) -> logging.Logger:
        """The logger the records go to."""
        return self._logger

    def write(self, event: PamEvent) -> None:
        """Log *event* at the level matching its severity."""
        if not isinstance(event, PamEvent):
            raise InvalidValueError(
                f"event must be a PamEvent, not {type(event).__name__}", field="event"
            )
        fields = {f"pam_{name}": value for name, value in event.to_dict().items()}
        fields["pam_event"] = event
        self._logger.log(
            _LOGGING_LEVELS[event.level],
            "%s (event %d, %s)",
            event.message,
            int(event.event_id),
            event.source,
            extra=fields,
        )

    def close(self) -> None:
        """Nothing to release: the logger belongs to the application."""


def _report(error: EventLogError) -> None:
    _read_logger.warning("skipped a broken event line: %s", error)


def read_events(
    path: str | os.PathLike[str],
    *,
    strict: bool = True,
    on_error: Callable[[EventLogError], object] | None = None,
) -> Iterator[PamEvent]:
    """Stream the events of a JSON Lines file written by :class:`JsonLinesSink`, in file order.

    Blank lines are ignored. A broken line (not UTF-8, not JSON, not an event) raises
    :class:`EventLogError` naming the file and line. With ``strict=False`` the line is skipped
    instead and the error handed to ``on_error``, or logged as a warning on the
    ``pyampam.events.read`` logger when no ``on_error`` is given. A file that cannot be opened
    raises :class:`EventLogError` either way.
    """
    name = os.fspath(path)
    report = _report if on_error is None else on_error
    try:
        with open(name, "rb") as stream:
            for number, raw in enumerate(stream, start=1):
                try:
                    event = _parse_line(raw, name, number)
                except EventLogError as error:
                    if strict:
                        raise
                    report(error)
                    continue
                if event is not None:
                    yield event
    except OSError as error:
        raise _os_error("read the event file", name, error) from error


def _parse_line(raw: bytes, path: str, number: int) -> PamEvent | None:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise EventLogError(
            "the line is not UTF-8 text; the file is damaged or is not a pyampam event file: "
            "remove the line, or read with strict=False to skip it",
            path=path,
            line=number,
        ) from None
    if not text.strip():
        return None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise EventLogError(
            f"the line is not JSON ({error}); a crash may have cut it short: remove or repair "
            "it, or read with strict=False to skip it",
            path=path,
            line=number,
        ) from None
    if not isinstance(data, dict):
        raise EventLogError(
            f"the line holds a JSON {type(data).__name__}, not an event object; remove it, or "
            "read with strict=False to skip it",
            path=path,
            line=number,
        )
    try:
        return PamEvent.from_dict(data)
    except InvalidValueError as error:
        raise EventLogError(
            f"the line is not a valid event: {error}; repair the field, or read with "
            "strict=False to skip it",
            path=path,
            line=number,
        ) from None
