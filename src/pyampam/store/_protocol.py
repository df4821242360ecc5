"""The storage protocol the activation service uses: users, roles and requests."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection, Iterator
from typing import Protocol, runtime_checkable

from pyampam._model import ActivationRequest, RequestStatus, Role, User

__all__ = ["Store"]


@runtime_checkable
class Store(Protocol):
    """Where PAM users, roles and activation requests live.

    Every method is atomic on its own. ``update_request`` is a compare-and-set on the status,
    so two processes sharing a store never both move the same request. Lookups of a missing
    id raise :class:`~pyampam.exceptions.NotFoundError`; adding an existing id (or a user with
    an existing ``DOMAIN\\account``, a role with an existing display name) raises
    :class:`~pyampam.exceptions.AlreadyExistsError`. Failures of the medium itself raise
    :class:`~pyampam.exceptions.StoreError`.
    """

    # -- users --------------------------------------------------------------------------------

    def add_user(self, user: User) -> None:
        """Store a new user."""
        ...

    def get_user(self, object_id: uuid.UUID) -> User:
        """The user with that object id."""
        ...

    def find_users(
        self,
        *,
        source_domain: str | None = None,
        source_account_name: str | None = None,
        display_name: str | None = None,
    ) -> list[User]:
        """Users matching every given field exactly (case-insensitively), in a stable order."""
        ...

    def iter_users(self) -> Iterator[User]:
        """Every user, streamed (the phone monitor walks 100k users this way)."""
        ...

    def replace_user(self, user: User) -> None:
        """Replace the stored user with the same object id."""
        ...

    def remove_user(self, object_id: uuid.UUID) -> None:
        """Remove a user."""
        ...

    # -- roles --------------------------------------------------------------------------------

    def add_role(self, role: Role) -> None:
        """Store a new role."""
        ...

    def get_role(self, role_id: uuid.UUID) -> Role:
        """The role with that id."""
        ...

    def find_roles(self, *, display_name: str | None = None) -> list[Role]:
        """Roles with that display name (case-insensitively), or all roles, in a stable order."""
        ...

    def roles_with_candidate(self, user_id: uuid.UUID) -> list[Role]:
        """The roles the user is a candidate of."""
        ...

    def replace_role(self, role: Role) -> None:
        """Replace the stored role with the same id."""
        ...

    def remove_role(self, role_id: uuid.UUID) -> None:
        """Remove a role."""
        ...

    # -- requests -----------------------------------------------------------------------------

    def add_request(self, request: ActivationRequest) -> None:
        """Store a new request."""
        ...

    def get_request(self, request_id: uuid.UUID) -> ActivationRequest:
        """The request with that id."""
        ...

    def update_request(self, request: ActivationRequest, *, expected_status: RequestStatus) -> None:
        """Replace a stored request, only if its stored status is still ``expected_status``.

        Raises :class:`~pyampam.exceptions.ConcurrentUpdateError` otherwise.
        """
        ...

    def find_requests(
        self,
        *,
        requestor_id: uuid.UUID | None = None,
        role_id: uuid.UUID | None = None,
        statuses: Collection[RequestStatus] | None = None,
    ) -> list[ActivationRequest]:
        """Requests matching every given filter, oldest first."""
        ...

    def requests_due(
        self, status: RequestStatus, *, before: dt.datetime, limit: int | None = None
    ) -> list[ActivationRequest]:
        """Requests in ``status`` whose due time is at or before ``before``, earliest first.

        The due time is ``expiration_time`` for Active requests and ``requested_time`` for
        Scheduled ones. Its cost grows with the result, not with the number of requests.
        """
        ...

    def purge_requests(self, *, finished_before: dt.datetime) -> int:
        """Delete finished requests (Closed, Expired, Rejected) that ended before the time."""
        ...

    def close(self) -> None:
        """Release the store's resources; further calls fail."""
        ...
