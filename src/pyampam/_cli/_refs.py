r"""How the CLI finds what a command names: users (``DOMAIN\account``, GUID), roles, requests."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING

from pyampam.exceptions import InvalidValueError, NotFoundError

if TYPE_CHECKING:
    from pyampam._model import ActivationRequest, Role, User
    from pyampam.activation import PamService

__all__ = [
    "MIN_PREFIX",
    "NameCache",
    "find_request",
    "find_role",
    "find_user",
    "match_request_id",
    "parse_uuid",
]

#: The shortest request id prefix accepted: the first group of the GUID.
MIN_PREFIX = 8
_HEX = re.compile(r"[0-9a-f]+")


def parse_uuid(text: str) -> uuid.UUID | None:
    """The GUID *text* spells (with or without braces), or None."""
    try:
        return uuid.UUID(text.strip())
    except ValueError:
        return None


def _account(text: str) -> str | None:
    r"""``DOMAIN\account`` for ``DOMAIN\account`` or ``DOMAIN/account`` (no shell quoting)."""
    for separator in ("\\", "/"):
        domain, found, account = text.partition(separator)
        if found and domain.strip() and account.strip():
            return f"{domain.strip()}\\{account.strip()}"
    return None


def find_user(service: PamService, text: str) -> User:
    r"""The user named by ``DOMAIN\account``, ``DOMAIN/account`` or an object GUID."""
    account = _account(text)
    if account is not None:
        try:
            return service.get_user(account)
        except NotFoundError:
            raise NotFoundError(
                f"no PAM user is {account}; check the name with 'pyampam user get', or create "
                "it with 'pyampam user new DOMAIN ACCOUNT'"
            ) from None
    object_id = parse_uuid(text)
    if object_id is None:
        raise InvalidValueError(
            f"{text!r} names no user: give DOMAIN\\account (e.g. CORP\\jen, or CORP/jen to "
            "avoid shell quoting) or the user's object id",
            field="user",
        )
    return service.get_user(object_id)


def find_users(service: PamService, texts: Iterable[str]) -> list[User]:
    """Every user named, in order (see :func:`find_user`)."""
    return [find_user(service, text) for text in texts]


def find_role(service: PamService, text: str) -> Role:
    """The role named by its display name (any case) or its id."""
    role_id = parse_uuid(text)
    if role_id is not None:
        try:
            return service.get_role(role_id)
        except NotFoundError:
            pass  # a display name may look like a GUID; try it as one before giving up
    try:
        return service.get_role(text)
    except NotFoundError:
        raise NotFoundError(
            f"no PAM role is named {text!r}; list the roles with 'pyampam role get'"
        ) from None


def match_request_id(text: str, known: Iterable[uuid.UUID]) -> uuid.UUID:
    """The one id among *known* that *text* spells in full or starts (8 hex digits at least)."""
    full = parse_uuid(text)
    if full is not None:
        return full
    prefix = text.strip().casefold().replace("-", "")
    if not _HEX.fullmatch(prefix):
        raise InvalidValueError(
            f"{text!r} is not a request id: give the id, or its first {MIN_PREFIX} hex digits "
            "or more (as 'pyampam request list' shows them)",
            field="request",
        )
    if len(prefix) < MIN_PREFIX:
        raise InvalidValueError(
            f"the request id prefix {text!r} is too short: give at least {MIN_PREFIX} hex digits",
            field="request",
        )
    matches = sorted({one for one in known if one.hex.startswith(prefix)}, key=str)
    if not matches:
        raise NotFoundError(
            f"no activation request id starts with {text.strip()}; list them with "
            "'pyampam request list'"
        )
    if len(matches) > 1:
        shown = ", ".join(str(one) for one in matches[:3])
        raise InvalidValueError(
            f"the prefix {text.strip()} matches {len(matches)} requests ({shown}); give more "
            "digits",
            field="request",
        )
    return matches[0]


def find_request(service: PamService, text: str) -> ActivationRequest:
    """The request named by its id or a unique prefix of it."""
    if parse_uuid(text) is not None:
        return service.get_request(match_request_id(text, ()))
    known = (request.request_id for request in service.get_requests())
    return service.get_request(match_request_id(text, known))


class NameCache:
    r"""``DOMAIN\account`` of user ids and display names of role ids, each looked up once."""

    def __init__(self, service: PamService) -> None:
        self._service = service
        self._users: dict[uuid.UUID, str | None] = {}
        self._roles: dict[uuid.UUID, str | None] = {}

    def user(self, user_id: uuid.UUID) -> str | None:
        """The user's ``DOMAIN\\account``, or None when the user is gone."""
        if user_id not in self._users:
            try:
                self._users[user_id] = self._service.get_user(user_id).source_identity
            except NotFoundError:
                self._users[user_id] = None
        return self._users[user_id]

    def role(self, role_id: uuid.UUID) -> str | None:
        """The role's display name, or None when the role is gone."""
        if role_id not in self._roles:
            try:
                self._roles[role_id] = self._service.get_role(role_id).display_name
            except NotFoundError:
                self._roles[role_id] = None
        return self._roles[role_id]
