"""Closing the TLS socket that a failed ``SSLContext.wrap_socket`` made, then dropped."""

from __future__ import annotations

import ssl
import traceback

__all__ = ["close_orphaned_tls_socket"]


def close_orphaned_tls_socket(error: BaseException) -> None:
    """Close the :class:`ssl.SSLSocket` that the failed wrap behind ``error`` left open, if any.

    ``wrap_socket`` moves the file descriptor out of the plain socket into a new SSLSocket, and
    only then checks the connection. When the peer has reset it already (a server that closes
    its listening socket resets the connections still waiting to be accepted), CPython releases
    without the fix for python/cpython#113280 (3.11.7, for one) raise without closing the new
    socket. Closing the plain socket does nothing by then, so the SSLSocket holds the descriptor
    until the garbage collector finds it, and warns (ResourceWarning) in whatever code runs at
    that moment. It is still reachable from the traceback, in the frame that made it. Where
    CPython has closed it already, closing it again does nothing.
    """
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        for frame, _ in traceback.walk_tb(current.__traceback__):
            if frame.f_code.co_name == "_create" and frame.f_globals.get("__name__") == "ssl":
                orphan = frame.f_locals.get("self")
                if isinstance(orphan, ssl.SSLSocket):
                    orphan.close()
        # Libraries wrap errors; the wrap may have failed in the one they wrapped.
        pending += [current.__cause__, current.__context__]
