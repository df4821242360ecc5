"""The PAM command groups: ``user``, ``role``, ``request``, ``expire``, ``monitor``, ``events``."""

from __future__ import annotations

from typing import Any

from pyampam._cli import _requests, _roles, _users, _watch

__all__ = ["register"]


def register(commands: Any) -> None:
    """Add every PAM command to the top-level subparsers, in the order ``--help`` lists them."""
    _users.register(commands)
    _roles.register(commands)
    _requests.register(commands)
    _watch.register(commands)
