"""An in-memory store: the default when no store is given, and the reference for the others."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Collection, Iterator

from pyampam._model import ActivationRequest, RequestStatus, Role, User
from pyampam.exceptions import (
    AlreadyExistsError,
    ConcurrentUpdateError,
    NotFoundError,
    StoreError,
)
from pyampam.store._arguments import check_instant, check_limit, check_statuses

__all__ = ["FINISHED_STATUSES", "MemoryStore", "due_time", "ended_time"]

FINISHED_STATUSES = frozenset({RequestStatus.CLOSED, RequestStatus.EXPIRED, RequestStatus.REJECTED})


def due_time(request: ActivationRequest) -> dt.datetime | None:
    """When a request is due to move on: expiry for Active, start for Scheduled, else None."""
    if request.status is RequestStatus.ACTIVE:
        return request.expiration_time
    if request.status is RequestStatus.SCHEDULED:
        return request.requested_time
    return None


def ended_time(request: ActivationRequest) -> dt.datetime:
    """When a finished request ended: its expiration (or close) time, else its creation time."""
    return request.expiration_time or request.creation_time


def _account_key(user: User) -> tuple[str, str]:
    return (user.source_domain.casefold(), user.source_account_name.casefold())


def _fold(text: str | None) -> str | None:
    return None if text is None else text.casefold()


class MemoryStore:
    """A :class:`~pyampam.store.Store` in a dictionary, thread safe, gone when the process ends."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._users: dict[uuid.UUID, User] = {}
        # DOMAIN\account, folded, to object id: keeps add_user O(1) for 100k users.
        self._accounts: dict[tuple[str, str], uuid.UUID] = {}
        self._roles: dict[uuid.UUID, Role] = {}
        self._requests: dict[uuid.UUID, ActivationRequest] = {}
        self._closed = False

    def __repr__(self) -> str:
        return (
            f"MemoryStore(users={len(self._users)}, roles={len(self._roles)}, "
            f"requests={len(self._requests)})"
        )

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError("the store is closed; open a new one")

    # -- users --------------------------------------------------------------------------------

    def add_user(self, user: User) -> None:
        """Store a new user."""
        with self._lock:
            self._check_open()
            if user.object_id in self._users:
                raise AlreadyExistsError(f"a user with object id {user.object_id} already exists")
            if self._user_by_account(user.source_domain, user.source_account_name) is not None:
                raise AlreadyExistsError(
                    f"a user {user.source_identity} already exists; change that user instead"
                )
            self._users[user.object_id] = user
            self._accounts[_account_key(user)] = user.object_id

    def _user_by_account(self, domain: str, account: str) -> User | None:
        object_id = self._accounts.get((domain.casefold(), account.casefold()))
        return None if object_id is None else self._users[object_id]

    def get_user(self, object_id: uuid.UUID) -> User:
        """The user with that object id."""
        with self._lock:
            self._check_open()
            try:
                return self._users[object_id]
            except KeyError:
                raise NotFoundError(f"no PAM user has object id {object_id}") from None

    def find_users(
        self,
        *,
        source_domain: str | None = None,
        source_account_name: str | None = None,
        display_name: str | None = None,
    ) -> list[User]:
        """Users matching every given field exactly (case-insensitively), in a stable order."""
        wanted = (_fold(source_domain), _fold(source_account_name), _fold(display_name))
        with self._lock:
            self._check_open()
            found = [
                user
                for user in self._users.values()
                if all(
                    want is None or want == _fold(have)
                    for want, have in zip(
                        wanted,
                        (user.source_domain, user.source_account_name, user.display_name),
                        strict=True,
                    )
                )
            ]
        return sorted(found, key=lambda u: (u.source_domain.casefold(), u.source_account_name))

    def iter_users(self) -> Iterator[User]:
        """Every user, from a snapshot taken when iteration starts."""
        with self._lock:
            self._check_open()
            snapshot = list(self._users.values())
        return iter(snapshot)

    def replace_user(self, user: User) -> None:
        """Replace the stored user with the same object id."""
        with self._lock:
            self.get_user(user.object_id)
            other = self._user_by_account(user.source_domain, user.source_account_name)
            if other is not None and other.object_id != user.object_id:
                raise AlreadyExistsError(f"another user is already {user.source_identity}")
            del self._accounts[_account_key(self._users[user.object_id])]
            self._users[user.object_id] = user
            self._accounts[_account_key(user)] = user.object_id

    def remove_user(self, object_id: uuid.UUID) -> None:
        """Remove a user."""
        with self._lock:
            del self._accounts[_account_key(self.get_user(object_id))]
            del self._users[object_id]

    # -- roles --------------------------------------------------------------------------------

    def add_role(self, role: Role) -> None:
        """Store a new role."""
        with self._lock:
            self._check_open()
            if role.role_id in self._roles:
                raise AlreadyExistsError(f"a role with id {role.role_id} already exists")
            if self.find_roles(display_name=role.display_name):
                raise AlreadyExistsError(
                    f"a role named {role.display_name!r} already exists; change that role "
                    "instead, or pick another name"
                )
            self._roles[role.role_id] = role

    def get_role(self, role_id: uuid.UUID) -> Role:
        """The role with that id."""
        with self._lock:
            self._check_open()
            try:
                return self._roles[role_id]
            except KeyError:
                raise NotFoundError(f"no PAM role has id {role_id}") from None

    def find_roles(self, *, display_name: str | None = None) -> list[Role]:
        """Roles with that display name (case-insensitively), or all roles, in a stable order."""
        wanted = _fold(display_name)
        with self._lock:
            self._check_open()
            found = [
                role
                for role in self._roles.values()
                if wanted is None or _fold(role.display_name) == wanted
            ]
        return sorted(found, key=lambda r: r.display_name.casefold())

    def roles_with_candidate(self, user_id: uuid.UUID) -> list[Role]:
        """The roles the user is a candidate of."""
        with self._lock:
            self._check_open()
            found = [role for role in self._roles.values() if user_id in role.candidates]
        return sorted(found, key=lambda r: r.display_name.casefold())

    def replace_role(self, role: Role) -> None:
        """Replace the stored role with the same id."""
        with self._lock:
            self.get_role(role.role_id)
            for other in self.find_roles(display_name=role.display_name):
                if other.role_id != role.role_id:
                    raise AlreadyExistsError(f"another role is named {role.display_name!r}")
            self._roles[role.role_id] = role

    def remove_role(self, role_id: uuid.UUID) -> None:
        """Remove a role."""
        with self._lock:
            self.get_role(role_id)
            del self._roles[role_id]

    # -- requests -----------------------------------------------------------------------------

    def add_request(self, request: ActivationRequest) -> None:
        """Store a new request."""
        with self._lock:
            self._check_open()
            if request.request_id in self._requests:
                raise AlreadyExistsError(f"a request with id {request.request_id} already exists")
            self._requests[request.request_id] = request

    def get_request(self, request_id: uuid.UUID) -> ActivationRequest:
        """The request with that id."""
        with self._lock:
            self._check_open()
            try:
                return self._requests[request_id]
            except KeyError:
                raise NotFoundError(f"no activation request has id {request_id}") from None

    def update_request(self, request: ActivationRequest, *, expected_status: RequestStatus) -> None:
        """Replace a stored request, only if its stored status is still ``expected_status``."""
        with self._lock:
            stored = self.get_request(request.request_id)
            if stored.status is not expected_status:
                raise ConcurrentUpdateError(
                    f"request {request.request_id} is {stored.status}, not {expected_status}: "
                    "someone else changed it; read it again"
                )
            self._requests[request.request_id] = request

    def find_requests(
        self,
        *,
        requestor_id: uuid.UUID | None = None,
        role_id: uuid.UUID | None = None,
        statuses: Collection[RequestStatus] | None = None,
    ) -> list[ActivationRequest]:
        """Requests matching every given filter, oldest first."""
        wanted = check_statuses(statuses)
        with self._lock:
            self._check_open()
            found = [
                request
                for request in self._requests.values()
                if (requestor_id is None or request.requestor_id == requestor_id)
                and (role_id is None or request.role_id == role_id)
                and (wanted is None or request.status in wanted)
            ]
        return sorted(found, key=lambda r: (r.creation_time, str(r.request_id)))

    def requests_due(
        self, status: RequestStatus, *, before: dt.datetime, limit: int | None = None
    ) -> list[ActivationRequest]:
        """Requests in ``status`` whose due time is at or before ``before``, earliest first."""
        check_instant(before, "before")
        check_limit(limit)
        with self._lock:
            self._check_open()
            found = []
            for request in self._requests.values():
                due = due_time(request)
                if request.status is status and due is not None and due <= before:
                    found.append((due, str(request.request_id), request))
        found.sort(key=lambda item: (item[0], item[1]))
        chosen = found if limit is None else found[:limit]
        return [request for _, _, request in chosen]

    def purge_requests(self, *, finished_before: dt.datetime) -> int:
        """Delete finished requests that ended before the time; return how many."""
        check_instant(finished_before, "finished_before")
        with self._lock:
            self._check_open()
            doomed = [
                request_id
                for request_id, request in self._requests.items()
                if request.status in FINISHED_STATUSES and ended_time(request) < finished_before
            ]
            for request_id in doomed:
                del self._requests[request_id]
        return len(doomed)

    def close(self) -> None:
        """Forget everything; further calls raise StoreError."""
        with self._lock:
            self._closed = True
            self._users.clear()
            self._accounts.clear()
            self._roles.clear()
            self._requests.clear()
