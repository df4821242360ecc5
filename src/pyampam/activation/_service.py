"""PamService: MIM's PAM cmdlets as a Python API over a store, an MFA provider and an event log."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Collection, Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeAlias

import attrs

from pyampam._display import REQUESTS, ROLES, USERS, Records
from pyampam._model import (
    ActivationPolicy,
    ActivationRequest,
    PamConfiguration,
    RequestStatus,
    Role,
    User,
)
from pyampam._phone import PhoneNumber
from pyampam.activation._gate_runner import GateRunner
from pyampam.activation._lifecycle import (
    ENTRY_EVENTS,
    HELD_AT_SOME_TIME,
    HOLDING,
    OPEN,
    authorized,
    ended,
    holds_at,
    mfa_event,
    raise_for_violations,
)
from pyampam.activation._mfa_gate import GateOutcome, MfaGate, check_mode
from pyampam.activation._monitor import PhoneChange, monitor_phones
from pyampam.activation._unset import UNSET, Unset
from pyampam.events import EventId, EventLog, ExtraValue, PamEvent
from pyampam.exceptions import (
    CandidatesWithoutPhoneError,
    ConcurrentUpdateError,
    InvalidTransitionError,
    InvalidValueError,
    NoMfaProviderError,
    NotAnApproverError,
    NotFoundError,
    PamError,
    PhoneNumberError,
    SelfApprovalError,
    UserIsCandidateError,
)
from pyampam.providers._protocol import DEFAULT_AUTHENTICATE_TIMEOUT, MfaProvider
from pyampam.providers._types import AuthMode
from pyampam.store._memory import MemoryStore
from pyampam.store._protocol import Store

if TYPE_CHECKING:
    from pyampam.directory import DirectoryEntry, SourceDirectory

__all__ = ["PamService", "RequestRef", "RoleRef", "UserRef"]

#: A user given as a :class:`~pyampam.User`, its object id, or its ``DOMAIN\account`` text.
UserRef: TypeAlias = User | uuid.UUID | str
#: A role given as a :class:`~pyampam.Role`, its id, or its display name.
RoleRef: TypeAlias = Role | uuid.UUID | str
#: A request given as an :class:`~pyampam.ActivationRequest` or its id.
RequestRef: TypeAlias = ActivationRequest | uuid.UUID

# Statuses only move forward, so a compare-and-set can lose only a handful of times in a row;
# more means a store that reports conflicts it does not have.
_MAX_CONFLICTS = 20


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _names(values: Iterable[str]) -> str:
    return ", ".join(sorted(values))


class PamService:
    r"""MIM 2016 PAM as a Python API: users, roles, activation requests, approvals and MFA.

    Everything lives in ``store`` (default: a fresh :class:`~pyampam.store.MemoryStore`);
    every change of a request is recorded in ``event_log`` (default: an in-memory
    :class:`~pyampam.events.EventLog`). ``clock`` returns the current time as an aware
    datetime (default: now in UTC). ``provider`` places the MFA calls; without one, activating
    a role that needs MFA raises :class:`~pyampam.exceptions.NoMfaProviderError`.
    ``default_country_code`` reads phone numbers given as text (MfaSettings'
    ``DefaultCountryCode``). ``mfa_mode`` is the mode of every call (PIN mode sends the user's
    stored PIN); ``mfa_timeout`` is how many seconds an MFA call may take before the gate fails
    (None: no limit); ``allow_self_approval`` lets an approver approve their own request.

    **Authorization.** A role with neither check activates a candidate's request at once. With
    both checks, **MFA comes first, then approval** (as :attr:`~pyampam.Requirement.gates`
    says): ``PendingMFA`` → ``PendingApproval`` → ``Active`` (or ``Scheduled`` when a later
    start was requested). A failed MFA gate (the user did not authenticate, the provider
    failed, or the call took longer than ``mfa_timeout``) ends the request in ``Rejected``,
    with the provider's failure message as ``status_reason``: MIM has no status of its own for
    it, and Rejected is the one final status that says "not authorized". The policy is checked
    when the request is made; each gate reads the role as it is when the gate is passed.

    **Approval.** Only the role's approvers may approve or reject, and an approver may not
    approve their own request unless ``allow_self_approval=True`` (rejecting it is allowed).

    **Events.** Each request records ``REQUEST_CREATED`` once; entering ``Scheduled``,
    ``Active``, ``Rejected``, ``Closed`` or ``Expired`` records that status's event exactly
    once; each gate outcome records its own event: 103 or 101 for the MFA call (with the call
    result and call id) when its outcome moves the request on (a request closed while its call
    ran records no MFA event), ``REQUEST_APPROVED`` for an approval (a rejection by an
    approver is the ``REQUEST_REJECTED`` event itself). Every change of a request is a
    compare-and-set on its status (``store.update_request(..., expected_status=...)``), so two
    services sharing a store never both move the same request, nor record it twice.

    **Time.** Nothing moves by itself: :meth:`start_due` starts ``Scheduled`` requests whose
    time has come and :meth:`expire_due` expires ``Active`` ones; run both regularly (start
    first). :meth:`privileges_of` reads the clock, so an expired request grants nothing even
    before :meth:`expire_due` has recorded it.

    Every method takes users, roles and requests as objects or ids (users also as
    ``DOMAIN\account``, roles by display name) and returns fresh objects from the store.
    Usable as a context manager: leaving it calls :meth:`shutdown`.
    """

    def __init__(
        self,
        *,
        store: Store | None = None,
        provider: MfaProvider | None = None,
        clock: Callable[[], dt.datetime] | None = None,
        event_log: EventLog | None = None,
        config: PamConfiguration | None = None,
        default_country_code: int = 1,
        mfa_mode: AuthMode = AuthMode.STANDARD,
        mfa_timeout: float | None = DEFAULT_AUTHENTICATE_TIMEOUT,
        allow_self_approval: bool = False,
    ) -> None:
        if config is not None and not isinstance(config, PamConfiguration):
            raise InvalidValueError(
                f"config must be a PamConfiguration, not {type(config).__name__}", field="config"
            )
        if clock is not None and not callable(clock):
            raise InvalidValueError(
                "clock must be a function returning an aware datetime, such as "
                "lambda: datetime.now(timezone.utc)",
                field="clock",
            )
        if (
            isinstance(default_country_code, bool)
            or not isinstance(default_country_code, int)
            or not 1 <= default_country_code <= 999
        ):
            raise InvalidValueError(
                "default_country_code must be an int from 1 to 999 (1 for the US and Canada), "
                f"not {default_country_code!r}",
                field="default_country_code",
            )
        if not isinstance(allow_self_approval, bool):
            raise InvalidValueError(
                f"allow_self_approval must be True or False, not {allow_self_approval!r}",
                field="allow_self_approval",
            )
        check_mode(mfa_mode)
        self._store: Store = MemoryStore() if store is None else store
        self._events = EventLog() if event_log is None else event_log
        self._clock = _utc_now if clock is None else clock
        self._config = PamConfiguration() if config is None else config
        self._default_country_code = default_country_code
        self._mfa_mode = mfa_mode
        self._mfa_timeout = _check_timeout(mfa_timeout, "mfa_timeout")
        self._allow_self_approval = allow_self_approval
        self._provider = provider
        self._gate = None if provider is None else MfaGate(provider, mode=mfa_mode)
        self._gates = GateRunner(self._finish_mfa)

    def __repr__(self) -> str:
        waiting = len(self._gates)
        provider = "none" if self._provider is None else type(self._provider).__name__
        return f"<PamService store={self._store!r} provider={provider} mfa_calls={waiting}>"

    # -- the parts ---------------------------------------------------------------------------

    @property
    def store(self) -> Store:
        """Where users, roles and requests live."""
        return self._store

    @property
    def events(self) -> EventLog:
        """The "Privileged Access Management" event log the service records to."""
        return self._events

    @property
    def provider(self) -> MfaProvider | None:
        """The MFA provider, or None when the service cannot place MFA calls."""
        return self._provider

    @property
    def mfa_mode(self) -> AuthMode:
        """The mode of every MFA call the service places."""
        return self._mfa_mode

    @property
    def default_country_code(self) -> int:
        """The country code for phone numbers given without one."""
        return self._default_country_code

    @property
    def config(self) -> PamConfiguration:
        """The global PAM configuration (Get-PAMConfiguration)."""
        return self._config

    @config.setter
    def config(self, value: PamConfiguration) -> None:
        if not isinstance(value, PamConfiguration):
            raise InvalidValueError(
                f"config must be a PamConfiguration, not {type(value).__name__}", field="config"
            )
        self._config = value

    def set_config(self, **changes: Any) -> PamConfiguration:
        """Change fields of the configuration (Set-PAMConfiguration); the new configuration.

        Takes :class:`~pyampam.PamConfiguration`'s field names. The configuration belongs to
        this service, not to the store. Changes apply to what is done from now on: existing
        roles keep their TTL and existing users their privileged account name.
        """
        known = {field.name for field in attrs.fields(PamConfiguration)}
        unknown = set(changes) - known
        if unknown:
            raise InvalidValueError(
                f"PamConfiguration has no field {_names(unknown)}; choose from {_names(known)}",
                field=sorted(unknown)[0],
            )
        self._config = attrs.evolve(self._config, **changes)
        return self._config

    def now(self) -> dt.datetime:
        """The current time by the service's clock, in UTC."""
        moment = self._clock()
        if not isinstance(moment, dt.datetime) or moment.utcoffset() is None:
            raise InvalidValueError(
                f"the service clock returned {moment!r}; it must return an aware datetime, "
                "such as datetime.now(timezone.utc)",
                field="clock",
            )
        return moment.astimezone(dt.timezone.utc)

    # -- users (New-/Get-/Set-/Remove-PAMUser) ------------------------------------------------

    def new_user(
        self,
        source_domain: str,
        source_account_name: str,
        *,
        display_name: str | None = None,
        description: str | None = None,
        email: str | None = None,
        sid: str | None = None,
        phone: PhoneNumber | str | Unset | None = UNSET,
        pin: str | None = None,
        directory: SourceDirectory | None = None,
        privileged_display_name: str | None = None,
    ) -> User:
        r"""Create a PAM user for the CORP account ``source_domain\source_account_name``.

        With a ``directory``, the account must be in it and its phone number is copied
        **once**, as New-PAMUser does (read with ``default_country_code``); later directory
        changes are not copied (:meth:`monitor_phones` notices them). The entry's display
        name, e-mail and SID fill in those not given. ``phone`` (a
        :class:`~pyampam.PhoneNumber` or text) overrides the directory, and ``phone=None``
        stores none. The privileged account name is the configured prefix + the account name;
        the object id is a new GUID, as the MIM Service assigns.
        """
        stored_phone = None if isinstance(phone, Unset) else self._phone(phone)
        if directory is not None:
            entry = self._directory_entry(directory, source_domain, source_account_name)
            if isinstance(phone, Unset):
                stored_phone = self._phone_from(entry)
            display_name = entry.display_name if display_name is None else display_name
            email = entry.email if email is None else email
            sid = entry.sid if sid is None else sid
        user = User(
            source_domain=source_domain,
            source_account_name=source_account_name,
            display_name=display_name,
            description=description,
            email=email,
            sid=sid,
            phone=stored_phone,
            pin=pin,
            privileged_account_name=self._config.privileged_account_name_for(source_account_name),
            privileged_display_name=privileged_display_name,
        )
        self._store.add_user(user)
        return self._store.get_user(user.object_id)

    @staticmethod
    def _directory_entry(directory: SourceDirectory, domain: str, account: str) -> DirectoryEntry:
        entry = directory.lookup(domain, account)
        if entry is None:
            raise NotFoundError(
                f"the directory has no account {domain}\\{account}, so nothing can be copied "
                "from it; check the name, or leave out directory= and give the details"
            )
        return entry

    def _phone_from(self, entry: DirectoryEntry) -> PhoneNumber | None:
        try:
            return entry.parse_phone(self._default_country_code)
        except PhoneNumberError as error:
            raise PhoneNumberError(
                f"the directory's phone number for {entry.source_identity} cannot be used: "
                f"{error}. Pass phone= to store another number, or phone=None to store none",
                field="phone",
            ) from error

    def _phone(self, phone: PhoneNumber | str | None) -> PhoneNumber | None:
        if phone is None or isinstance(phone, PhoneNumber):
            return phone
        if isinstance(phone, str):
            return PhoneNumber.parse(phone, self._default_country_code)
        raise InvalidValueError(
            f"phone must be a PhoneNumber, its text or None, not {type(phone).__name__}",
            field="phone",
        )

    def get_user(self, user: UserRef) -> User:
        r"""The stored user given as a User, its object id, or ``DOMAIN\account``."""
        return self._user(user)

    def get_users(
        self,
        *,
        source_domain: str | None = None,
        source_account_name: str | None = None,
        display_name: str | None = None,
    ) -> Records[User]:
        """The users matching every given field (without regard to case); all without filters."""
        found = self._store.find_users(
            source_domain=source_domain,
            source_account_name=source_account_name,
            display_name=display_name,
        )
        return Records(found, table=USERS)

    def set_user(
        self,
        user: UserRef,
        *,
        phone: PhoneNumber | str | Unset | None = UNSET,
        pin: str | Unset | None = UNSET,
        display_name: str | Unset | None = UNSET,
        description: str | Unset | None = UNSET,
        email: str | Unset | None = UNSET,
        sid: str | Unset | None = UNSET,
        privileged_display_name: str | Unset | None = UNSET,
        privileged_account_active: bool | Unset = UNSET,
    ) -> User:
        """Change a user in PAM only (Set-PAMUser); the directory is never touched.

        Arguments left out keep their value; ``None`` clears a field. A phone number cannot
        be cleared while the user is a candidate of a role that needs MFA.
        """
        current = self._user(user)
        given: dict[str, object] = {
            "pin": pin,
            "display_name": display_name,
            "description": description,
            "email": email,
            "sid": sid,
            "privileged_display_name": privileged_display_name,
            "privileged_account_active": privileged_account_active,
        }
        changes: dict[str, Any] = {
            name: value for name, value in given.items() if not isinstance(value, Unset)
        }
        if not isinstance(phone, Unset):
            changes["phone"] = self._phone(phone)
            if changes["phone"] is None and current.phone is not None:
                mfa_roles = [
                    role.display_name
                    for role in self._store.roles_with_candidate(current.object_id)
                    if role.mfa_enabled
                ]
                if mfa_roles:
                    raise CandidatesWithoutPhoneError(
                        f"cannot clear the phone number of {current.source_identity}: they are "
                        f"a candidate of the MFA role(s) {_quoted(mfa_roles)}; remove them from "
                        "the candidates or disable MFA on those roles first"
                    )
        updated = attrs.evolve(current, **changes)
        self._store.replace_user(updated)
        return self._store.get_user(updated.object_id)

    def remove_user(self, user: UserRef) -> None:
        """Remove a user (Remove-PAMUser); refused while the user is a candidate of a role."""
        current = self._user(user)
        roles = self._store.roles_with_candidate(current.object_id)
        if roles:
            raise UserIsCandidateError(
                f"cannot remove {current.source_identity}: they are a candidate of the role(s) "
                f"{_quoted(role.display_name for role in roles)}; remove them from the "
                "candidates first, e.g. set_role(role, candidates=[...])"
            )
        self._store.remove_user(current.object_id)

    # -- roles (New-/Get-/Set-/Remove-PAMRole) ------------------------------------------------

    def new_role(
        self,
        display_name: str,
        *,
        description: str | None = None,
        candidates: Iterable[UserRef] = (),
        approvers: Iterable[UserRef] = (),
        privileges: Iterable[str] = (),
        ttl: dt.timedelta | None = None,
        availability_window_enabled: bool | None = None,
        available_from: dt.time | None = None,
        available_to: dt.time | None = None,
        mfa_enabled: bool = False,
        approval_enabled: bool = False,
    ) -> Role:
        """Create a role (New-PAMRole).

        ``ttl`` defaults to the configuration's ``role_default_duration`` and must lie within
        its minimal and maximal durations. The availability window is enabled when both ends
        are given, unless ``availability_window_enabled`` says otherwise. MFA can be enabled
        only when every candidate has a phone number; approval only with at least one approver.
        """
        role = Role(
            display_name=display_name,
            description=description,
            candidates=self._user_ids(candidates, "candidates"),
            approvers=self._user_ids(approvers, "approvers"),
            privileges=privileges,
            ttl=self._config.check_role_ttl(ttl),
            availability_window_enabled=_window_flag(
                availability_window_enabled, available_from, available_to
            ),
            available_from=available_from,
            available_to=available_to,
            mfa_enabled=mfa_enabled,
            approval_enabled=approval_enabled,
        )
        self._check_role(role)
        self._store.add_role(role)
        return self._store.get_role(role.role_id)

    def get_role(self, role: RoleRef) -> Role:
        """The stored role given as a Role, its id, or its display name."""
        return self._role(role)

    def get_roles(
        self, *, display_name: str | None = None, candidate: UserRef | None = None
    ) -> Records[Role]:
        """Roles by display name (without regard to case), or those *candidate* may request."""
        if candidate is not None:
            roles = self._store.roles_with_candidate(self._user(candidate).object_id)
            if display_name is not None:
                roles = [r for r in roles if r.display_name.casefold() == display_name.casefold()]
            return Records(roles, table=ROLES)
        return Records(self._store.find_roles(display_name=display_name), table=ROLES)

    def set_role(
        self,
        role: RoleRef,
        *,
        display_name: str | Unset = UNSET,
        description: str | Unset | None = UNSET,
        candidates: Iterable[UserRef] | Unset = UNSET,
        approvers: Iterable[UserRef] | Unset = UNSET,
        privileges: Iterable[str] | Unset = UNSET,
        ttl: dt.timedelta | Unset = UNSET,
        availability_window_enabled: bool | Unset = UNSET,
        available_from: dt.time | Unset | None = UNSET,
        available_to: dt.time | Unset | None = UNSET,
        mfa_enabled: bool | Unset = UNSET,
        approval_enabled: bool | Unset = UNSET,
    ) -> Role:
        """Change a role (Set-PAMRole); arguments left out keep their value.

        ``candidates``, ``approvers`` and ``privileges`` replace the whole list. A new ``ttl``
        is checked against the configured bounds. Giving the window's times without
        ``availability_window_enabled`` enables the window when both are set and disables it
        when both are None. The rules of :meth:`new_role` apply to the result. Open requests
        are not changed: each later gate reads the role as it is then.
        """
        current = self._role(role)
        given: dict[str, object] = {
            "display_name": display_name,
            "description": description,
            "privileges": privileges,
            "available_from": available_from,
            "available_to": available_to,
            "mfa_enabled": mfa_enabled,
            "approval_enabled": approval_enabled,
        }
        changes: dict[str, Any] = {
            name: value for name, value in given.items() if not isinstance(value, Unset)
        }
        if not isinstance(candidates, Unset):
            changes["candidates"] = self._user_ids(candidates, "candidates")
        if not isinstance(approvers, Unset):
            changes["approvers"] = self._user_ids(approvers, "approvers")
        if not isinstance(ttl, Unset):
            if ttl is None:
                raise InvalidValueError(
                    "a role's ttl is required; give a datetime.timedelta", field="ttl"
                )
            changes["ttl"] = self._config.check_role_ttl(ttl)
        if not isinstance(availability_window_enabled, Unset):
            changes["availability_window_enabled"] = availability_window_enabled
        elif "available_from" in changes or "available_to" in changes:
            start = changes.get("available_from", current.available_from)
            end = changes.get("available_to", current.available_to)
            changes["availability_window_enabled"] = start is not None and end is not None
        updated = attrs.evolve(current, **changes)
        self._check_role(updated)
        self._store.replace_role(updated)
        return self._store.get_role(updated.role_id)

    def remove_role(self, role: RoleRef, *, close_requests: bool = False) -> None:
        """Remove a role (Remove-PAMRole).

        Refused while the role has open requests (pending, scheduled or active), unless
        ``close_requests=True``, which first closes each of them (removing the memberships).
        Finished requests stay in the store as history.
        """
        current = self._role(role)
        open_requests = self._store.find_requests(role_id=current.role_id, statuses=OPEN)
        if open_requests and not close_requests:
            count = len(open_requests)
            raise PamError(
                f"role {current.display_name!r} has {count} open request"
                f"{'s' if count > 1 else ''} (pending, scheduled or active); close "
                f"{'them' if count > 1 else 'it'} first, or pass close_requests=True"
            )
        for request in open_requests:
            try:
                self.close(request, reason=f"role {current.display_name!r} removed")
            except InvalidTransitionError:
                continue  # it ended on its own meanwhile: nothing to close
        self._store.remove_role(current.role_id)

    def _check_role(self, role: Role) -> None:
        if role.mfa_enabled:
            users = [self._store_user(user_id) for user_id in role.candidates]
            missing = role.candidates_without_phone(user for user in users if user is not None)
            if missing:
                named = [self._identity(user_id) for user_id in missing]
                raise CandidatesWithoutPhoneError(
                    f"MFA cannot be enabled on role {role.display_name!r}: candidate(s) "
                    f"{_names(named)} have no phone number stored; store one with "
                    "set_user(user, phone=...) or leave them out of the candidates"
                )
        if role.approval_enabled and not role.approvers:
            raise InvalidValueError(
                f"role {role.display_name!r} needs approval but has no approvers, so no request "
                "could ever be approved; give approvers=[...] or approval_enabled=False",
                field="approvers",
            )

    # -- requests (New-/Get-/Close-PAMRequest) ------------------------------------------------

    def request_activation(
        self,
        user: UserRef,
        role: RoleRef,
        *,
        justification: str = "",
        requested_ttl: dt.timedelta | None = None,
        requested_time: dt.datetime | None = None,
        wait: bool = True,
        timeout: float | None = None,
    ) -> ActivationRequest:
        """Request activation of *role* for *user* (New-PAMRequest); the stored request.

        The role's policy is checked first: a refusal raises the
        :class:`~pyampam.exceptions.ActivationDeniedError` subclass of the first violation,
        with every violation in ``violations``. ``requested_ttl`` defaults to the role's TTL;
        ``requested_time`` asks for a later start (the request is ``Scheduled`` once
        authorized).

        When the role needs MFA, the call is placed at once. With ``wait=True`` this returns
        once the MFA gate has passed or failed (the request is then ``PendingApproval``,
        ``Active``, ``Scheduled`` or ``Rejected``); with ``wait=False`` it returns the request
        ``PendingMFA`` and the outcome is recorded in the background (see :meth:`wait_for`).
        ``timeout`` is how many seconds the call may take before the gate fails (default: the
        service's ``mfa_timeout``).
        """
        requestor = self._user(user)
        target = self._role(role)
        gate_timeout = self._mfa_timeout if timeout is None else _check_timeout(timeout, "timeout")
        if not isinstance(wait, bool):
            raise InvalidValueError(f"wait must be True or False, not {wait!r}", field="wait")
        now = self.now()
        decision = ActivationPolicy.for_role(target).evaluate(
            requestor, at=now, requested_ttl=requested_ttl, requested_time=requested_time
        )
        raise_for_violations(decision)
        request = ActivationRequest(
            requestor_id=requestor.object_id,
            role_id=target.role_id,
            justification=justification,
            requested_ttl=decision.ttl,
            requested_time=decision.start_time,
            creation_time=now,
        )
        if not decision.requirement.needs_mfa:
            if decision.requirement.needs_approval:
                request = attrs.evolve(
                    request,
                    status=RequestStatus.PENDING_APPROVAL,
                    status_reason="waiting for a role owner's approval",
                )
            else:
                request = authorized(request, now, reason="the role needs no approval or MFA")
            self._store.add_request(request)
            self._record_lifecycle(EventId.REQUEST_CREATED, request, target.display_name, now)
            self._record_entry(request, target.display_name, now)
            return self._store.get_request(request.request_id)
        return self._start_mfa(request, requestor, target, now, wait=wait, timeout=gate_timeout)

    def get_request(self, request: RequestRef) -> ActivationRequest:
        """The stored request, given as a request or its id."""
        return self._store.get_request(_request_id(request))

    def get_requests(
        self,
        user: UserRef | None = None,
        *,
        role: RoleRef | None = None,
        status: RequestStatus | Collection[RequestStatus] | None = None,
    ) -> Records[ActivationRequest]:
        """Requests by requestor, role and status, oldest first (Get-PAMRequest).

        ``status`` is one status or a collection (``{s for s in RequestStatus if
        s.is_pending}`` for ``-Pending``); None gives all (``-All``). Statuses are as stored:
        an Active request past its expiration is listed as Active until :meth:`expire_due`.
        """
        statuses: Collection[RequestStatus] | None
        if status is None or isinstance(status, RequestStatus):
            statuses = None if status is None else (status,)
        else:
            statuses = frozenset(status)
            if not all(isinstance(one, RequestStatus) for one in statuses):
                raise InvalidValueError(
                    "status must be a RequestStatus or a collection of them", field="status"
                )
        found = self._store.find_requests(
            requestor_id=None if user is None else self._user(user).object_id,
            role_id=None if role is None else self._role(role).role_id,
            statuses=statuses,
        )
        return Records(found, table=REQUESTS)

    def close(self, request: RequestRef, *, reason: str = "") -> ActivationRequest:
        """Close an active, scheduled or pending request (Close-PAMRequest); the closed request.

        The membership ends at once: the request becomes ``Closed`` with the close time as
        its expiration time. A running MFA wait for it is abandoned. Closing a finished
        request, or an active one whose expiration time has passed, raises
        :class:`~pyampam.exceptions.InvalidTransitionError`.
        """
        if not isinstance(reason, str):
            raise InvalidValueError(f"reason must be a str, not {reason!r}", field="reason")
        request_id = _request_id(request)

        def change(current: ActivationRequest, now: dt.datetime) -> ActivationRequest:
            expires = current.expiration_time
            if current.status is RequestStatus.ACTIVE and expires is not None and expires <= now:
                raise InvalidTransitionError(
                    f"request {request_id} expired at {expires.isoformat()}; there is nothing "
                    "to close (expire_due() records it as Expired)"
                )
            return ended(
                current,
                RequestStatus.CLOSED,
                now,
                reason=f"closed: {reason}" if reason else "closed",
            )

        _, closed, now = self._move(request_id, OPEN, "close", change)
        self._gates.abandon(request_id)
        self._record_entry(closed, self._role_name(closed.role_id), now)
        return self._store.get_request(request_id)

    def start_due(self) -> Records[ActivationRequest]:
        """Start every ``Scheduled`` request whose requested time has come; the started ones.

        A started request is ``Active`` from now until now + its TTL.
        """
        started = []
        for request in self._store.requests_due(RequestStatus.SCHEDULED, before=self.now()):

            def change(current: ActivationRequest, now: dt.datetime) -> ActivationRequest:
                # Due means the requested time is not after now, so this is Active.
                return authorized(current, now, reason="started at the requested time")

            try:
                _, active, now = self._move(
                    request.request_id, {RequestStatus.SCHEDULED}, "start", change
                )
            except InvalidTransitionError:
                continue  # closed meanwhile
            self._record_entry(active, self._role_name(active.role_id), now)
            started.append(self._store.get_request(active.request_id))
        return Records(started, table=REQUESTS)

    def expire_due(self) -> Records[ActivationRequest]:
        """Expire every ``Active`` request whose expiration time has come; the expired ones."""
        expired = []
        for request in self._store.requests_due(RequestStatus.ACTIVE, before=self.now()):

            def change(current: ActivationRequest, now: dt.datetime) -> ActivationRequest:
                return attrs.evolve(
                    current,
                    status=RequestStatus.EXPIRED,
                    status_reason=f"the TTL of {current.requested_ttl} ran out",
                )

            try:
                _, gone, now = self._move(
                    request.request_id, {RequestStatus.ACTIVE}, "expire", change
                )
            except InvalidTransitionError:
                continue  # closed meanwhile
            self._record_entry(gone, self._role_name(gone.role_id), now)
            expired.append(self._store.get_request(gone.request_id))
        return Records(expired, table=REQUESTS)

    def purge_requests(self) -> int:
        """Delete finished requests older than ``request_expiration_in_days``; how many."""
        cutoff = self.now() - self._config.request_retention
        return self._store.purge_requests(finished_before=cutoff)

    # -- approvals (Get-/Set-PAMRequestToApprove) ---------------------------------------------

    def requests_to_approve(self, approver: UserRef) -> Records[ActivationRequest]:
        """The ``PendingApproval`` requests *approver* may decide, oldest first.

        Without ``allow_self_approval``, the approver's own requests are left out.
        """
        owner = self._user(approver)
        found: list[ActivationRequest] = []
        for role in self._store.find_roles():
            if owner.object_id in role.approvers:
                found.extend(
                    self._store.find_requests(
                        role_id=role.role_id, statuses=(RequestStatus.PENDING_APPROVAL,)
                    )
                )
        if not self._allow_self_approval:
            found = [request for request in found if request.requestor_id != owner.object_id]
        return Records(
            sorted(found, key=lambda r: (r.creation_time, str(r.request_id))), table=REQUESTS
        )

    def approve(self, request: RequestRef, approver: UserRef) -> ActivationRequest:
        """Approve a ``PendingApproval`` request as one of its role's approvers.

        The request becomes ``Active`` (or ``Scheduled`` for a later start). Only the role's
        approvers may approve (:class:`~pyampam.exceptions.NotAnApproverError`), and not their
        own request unless the service allows self-approval
        (:class:`~pyampam.exceptions.SelfApprovalError`).
        """
        owner, role_name, request_id = self._check_approver(request, approver, approving=True)

        def change(current: ActivationRequest, now: dt.datetime) -> ActivationRequest:
            return authorized(
                current,
                now,
                reason=f"approved by {owner.source_identity}",
                decided_by=owner.object_id,
            )

        _, approved, now = self._move(
            request_id, {RequestStatus.PENDING_APPROVAL}, "approve", change
        )
        self._record_lifecycle(
            EventId.REQUEST_APPROVED,
            approved,
            role_name,
            now,
            extra={"decided_by": str(owner.object_id)},
        )
        self._record_entry(approved, role_name, now)
        return self._store.get_request(request_id)

    def reject(
        self, request: RequestRef, approver: UserRef, *, reason: str = ""
    ) -> ActivationRequest:
        """Reject a ``PendingApproval`` request as one of its role's approvers; it is final.

        A requestor who is also an approver may reject (withdraw) their own request.
        """
        if not isinstance(reason, str):
            raise InvalidValueError(f"reason must be a str, not {reason!r}", field="reason")
        owner, role_name, request_id = self._check_approver(request, approver, approving=False)
        why = f"rejected by {owner.source_identity}" + (f": {reason}" if reason else "")

        def change(current: ActivationRequest, now: dt.datetime) -> ActivationRequest:
            return ended(
                current, RequestStatus.REJECTED, now, reason=why, decided_by=owner.object_id
            )

        _, rejected, now = self._move(
            request_id, {RequestStatus.PENDING_APPROVAL}, "reject", change
        )
        self._record_entry(rejected, role_name, now, extra={"decided_by": str(owner.object_id)})
        return self._store.get_request(request_id)

    def _check_approver(
        self, request: RequestRef, approver: UserRef, *, approving: bool
    ) -> tuple[User, str | None, uuid.UUID]:
        owner = self._user(approver)
        current = self._store.get_request(_request_id(request))
        action = "approve" if approving else "reject"
        try:
            role = self._store.get_role(current.role_id)
        except NotFoundError:
            raise InvalidTransitionError(
                f"cannot {action} request {current.request_id}: its role no longer exists; "
                "close the request instead"
            ) from None
        if owner.object_id not in role.approvers:
            named = _names(self._identity(user_id) for user_id in role.approvers) or "none"
            raise NotAnApproverError(
                f"{owner.source_identity} is not an approver of role {role.display_name!r}, so "
                f"cannot {action} its requests; its approvers are: {named}"
            )
        if approving and owner.object_id == current.requestor_id and not self._allow_self_approval:
            raise SelfApprovalError(
                f"{owner.source_identity} cannot approve their own request for role "
                f"{role.display_name!r}; another approver must decide (or create the service "
                "with allow_self_approval=True)"
            )
        return owner, role.display_name, current.request_id

    # -- who holds what -----------------------------------------------------------------------

    def active_requests(
        self, user: UserRef, *, at: dt.datetime | None = None
    ) -> Records[ActivationRequest]:
        """The requests granting *user* a membership at *at* (default: now), oldest first.

        A request grants its role from its activation time up to, not including, its
        expiration time: an expired request grants nothing even before :meth:`expire_due`
        has recorded it, and a closed one nothing from its close time on. A ``Scheduled``
        request grants nothing until :meth:`start_due` has started it. A time in the past
        answers from the requests still stored.
        """
        requestor = self._user(user)
        moment = self.now() if at is None else _aware(at, "at")
        # "Now" needs only the live statuses; a past moment may be covered by finished ones.
        statuses = HOLDING if at is None else HELD_AT_SOME_TIME
        found = self._store.find_requests(requestor_id=requestor.object_id, statuses=statuses)
        return Records((request for request in found if holds_at(request, moment)), table=REQUESTS)

    def active_roles(self, user: UserRef, *, at: dt.datetime | None = None) -> Records[Role]:
        """The roles *user* holds at *at* (default: now), each once, by display name."""
        roles: dict[uuid.UUID, Role] = {}
        for request in self.active_requests(user, at=at):
            if request.role_id not in roles:
                role = self._store_role(request.role_id)
                if role is not None:
                    roles[role.role_id] = role
        return Records(sorted(roles.values(), key=lambda r: r.display_name.casefold()), table=ROLES)

    def privileges_of(self, user: UserRef, *, at: dt.datetime | None = None) -> frozenset[str]:
        """The groups *user* is a member of through PAM at *at* (default: now).

        The union of the privileges of the roles :meth:`active_roles` returns, as the roles
        are now.
        """
        return frozenset(
            privilege for role in self.active_roles(user, at=at) for privilege in role.privileges
        )

    # -- phone monitoring ---------------------------------------------------------------------

    def monitor_phones(
        self, directory: SourceDirectory, *, update: bool = False
    ) -> list[PhoneChange]:
        """Compare every user's stored phone number with the directory's (PAM Monitoring).

        Each difference is returned and recorded as event 825 (Warning, PAM Monitoring
        Service). As in MIM the stored number is left alone, unless ``update=True``, which
        stores the directory's number (a number that cannot be read is only reported, and a
        number is never cleared from a candidate of an MFA role). Users missing from the
        directory are skipped. Streams the users, so 100k of them take one pass.
        """
        return monitor_phones(
            self._store,
            directory,
            self._events,
            now=self.now(),
            default_country_code=self._default_country_code,
            update=update,
        )

    # -- the MFA gate -------------------------------------------------------------------------

    def _start_mfa(
        self,
        request: ActivationRequest,
        requestor: User,
        role: Role,
        now: dt.datetime,
        *,
        wait: bool,
        timeout: float | None,
    ) -> ActivationRequest:
        gate = self._gate
        if gate is None:
            raise NoMfaProviderError(
                f"role {role.display_name!r} requires MFA but this service has no MFA provider; "
                "create the PamService with provider=... (a PhoneFactorClient, or a "
                "FakeProvider in tests), or disable MFA on the role"
            )
        self._gates.check_open()
        challenge = gate.challenge_for(requestor)
        # The call is placed before the request is stored, so the request is born with its
        # call id and nothing ever rewrites a PendingMFA request behind a close() in flight.
        started = gate.initiate(challenge)
        call_id = started.call_id
        request = attrs.evolve(
            request,
            status=RequestStatus.PENDING_MFA,
            mfa_call_id=call_id,
            status_reason="waiting for the MFA call",
        )
        self._store.add_request(request)
        self._record_lifecycle(EventId.REQUEST_CREATED, request, role.display_name, now)
        if isinstance(started, GateOutcome):
            self._finish_mfa(request.request_id, started)
            return self._store.get_request(request.request_id)

        self._gates.run(request.request_id, gate, started, timeout=timeout, background=not wait)
        # In the background the outcome may land at any moment: this is the request as made.
        return self._store.get_request(request.request_id) if wait else request

    def _finish_mfa(self, request_id: uuid.UUID, outcome: GateOutcome) -> None:
        """Move the request past the MFA gate, then record the call's outcome (101 or 103).

        The MFA event is recorded only when the outcome moved the request: a request closed
        while its call ran keeps just its close event (the provider's own usage report still
        has the call).
        """
        request = self._store.get_request(request_id)
        role = self._store_role(request.role_id)
        role_name = None if role is None else role.display_name

        def change(current: ActivationRequest, now: dt.datetime) -> ActivationRequest:
            if not outcome.passed:
                return ended(current, RequestStatus.REJECTED, now, reason=outcome.message)
            live = None if role is None else self._store_role(role.role_id)
            if live is None:
                return ended(
                    current,
                    RequestStatus.REJECTED,
                    now,
                    reason="MFA completed, but the role no longer exists",
                )
            if live.approval_enabled:
                return attrs.evolve(
                    current,
                    status=RequestStatus.PENDING_APPROVAL,
                    status_reason="MFA completed; waiting for a role owner's approval",
                )
            return authorized(current, now, reason="MFA completed")

        try:
            _, moved, now = self._move(request_id, {RequestStatus.PENDING_MFA}, "pass", change)
        except InvalidTransitionError:
            return  # closed while the call ran: the close was recorded, nothing more to do
        self._events.record(mfa_event(request, role_name, outcome, now))
        self._record_entry(moved, role_name, now)

    def wait_for(self, request: RequestRef, *, timeout: float | None = None) -> ActivationRequest:
        """Block until the request's MFA gate has passed or failed; the stored request then.

        ``timeout`` bounds this wait only (seconds, None: until the gate ends, which its own
        ``mfa_timeout`` bounds) and raises :class:`~pyampam.exceptions.MfaTimeoutError`; the
        call goes on. A request with no MFA call running in this service comes back at once.
        """
        request_id = _request_id(request)
        self._gates.wait(request_id, _check_timeout(timeout, "timeout"))
        return self._store.get_request(request_id)

    def shutdown(self, *, timeout: float | None = 10.0) -> None:
        """Stop waiting for MFA calls and place no new ones; other methods keep working.

        Each request still waiting for its call fails its MFA gate (``Rejected``, event 101),
        since nothing would ever record its outcome. Waits up to ``timeout`` seconds for the
        background threads to finish. Calling it twice does nothing more.
        """
        self._gates.shutdown(_check_timeout(timeout, "timeout"))

    def __enter__(self) -> PamService:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.shutdown()

    # -- moving requests ----------------------------------------------------------------------

    def _move(
        self,
        request_id: uuid.UUID,
        allowed: Collection[RequestStatus],
        action: str,
        change: Callable[[ActivationRequest, dt.datetime], ActivationRequest],
    ) -> tuple[ActivationRequest, ActivationRequest, dt.datetime]:
        """Compare-and-set a request from one of the *allowed* statuses to ``change``'s result.

        Re-reads and retries when another writer got there first, so a lost race ends in
        :class:`~pyampam.exceptions.InvalidTransitionError` naming the status it lost to.
        """
        for _ in range(_MAX_CONFLICTS):
            current = self._store.get_request(request_id)
            if current.status not in allowed:
                which = _names(status.value for status in allowed)
                raise InvalidTransitionError(
                    f"cannot {action} request {request_id}: it is {current.status}, and only "
                    f"requests that are {which} can be {_past(action)}"
                )
            now = self.now()
            updated = change(current, now)
            try:
                self._store.update_request(updated, expected_status=current.status)
            except ConcurrentUpdateError:
                continue
            return current, updated, now
        raise ConcurrentUpdateError(
            f"request {request_id} kept changing while trying to {action} it; try again"
        )

    def _record_lifecycle(
        self,
        event_id: EventId,
        request: ActivationRequest,
        role_name: str | None,
        now: dt.datetime,
        *,
        extra: dict[str, ExtraValue] | None = None,
    ) -> None:
        details: dict[str, ExtraValue] = {"status": request.status.value}
        if extra:
            details.update(extra)
        self._events.record(
            PamEvent.lifecycle(
                event_id, time=now, request=request, role_name=role_name, extra=details
            )
        )

    def _record_entry(
        self,
        request: ActivationRequest,
        role_name: str | None,
        now: dt.datetime,
        *,
        extra: dict[str, ExtraValue] | None = None,
    ) -> None:
        """Record the event of the status *request* has just entered, if it has one."""
        event_id = ENTRY_EVENTS.get(request.status)
        if event_id is None:
            return
        details = dict(extra or {})
        if request.status is RequestStatus.ACTIVE and request.expiration_time is not None:
            details["expiration_time"] = request.expiration_time.isoformat()
        if request.status is RequestStatus.SCHEDULED and request.requested_time is not None:
            details["requested_time"] = request.requested_time.isoformat()
        self._record_lifecycle(event_id, request, role_name, now, extra=details)

    # -- lookups ------------------------------------------------------------------------------

    def _user(self, user: UserRef) -> User:
        if isinstance(user, User):
            return self._store.get_user(user.object_id)
        if isinstance(user, uuid.UUID):
            return self._store.get_user(user)
        if isinstance(user, str):
            domain, backslash, account = user.partition("\\")
            if backslash and domain and account:
                found = self._store.find_users(source_domain=domain, source_account_name=account)
                if found:
                    return found[0]
                raise NotFoundError(f"no PAM user is {user}; create it with new_user()")
            try:
                return self._store.get_user(uuid.UUID(user))
            except ValueError:
                pass
        raise InvalidValueError(
            "a user must be given as a User, a uuid.UUID object id or 'DOMAIN\\account' text, "
            f"not {user!r}",
            field="user",
        )

    def _role(self, role: RoleRef) -> Role:
        if isinstance(role, Role):
            return self._store.get_role(role.role_id)
        if isinstance(role, uuid.UUID):
            return self._store.get_role(role)
        if isinstance(role, str):
            found = self._store.find_roles(display_name=role)
            if found:
                return found[0]
            raise NotFoundError(f"no PAM role is named {role!r}; create it with new_role()")
        raise InvalidValueError(
            f"a role must be given as a Role, a uuid.UUID or a display name, not {role!r}",
            field="role",
        )

    def _user_ids(self, users: Iterable[UserRef], field: str) -> frozenset[uuid.UUID]:
        if isinstance(users, (str, bytes, User, uuid.UUID)) or not isinstance(users, Iterable):
            raise InvalidValueError(
                f"{field} must be a collection of users, not a single {type(users).__name__}; "
                "wrap one in a list",
                field=field,
            )
        ids = set()
        for user in users:
            try:
                ids.add(self._user(user).object_id)
            except NotFoundError as error:
                raise NotFoundError(
                    f"{field}: {error}; every one of them must be a PAM user"
                ) from None
        return frozenset(ids)

    def _store_user(self, user_id: uuid.UUID) -> User | None:
        try:
            return self._store.get_user(user_id)
        except NotFoundError:
            return None

    def _store_role(self, role_id: uuid.UUID) -> Role | None:
        try:
            return self._store.get_role(role_id)
        except NotFoundError:
            return None

    def _role_name(self, role_id: uuid.UUID) -> str | None:
        role = self._store_role(role_id)
        return None if role is None else role.display_name

    def _identity(self, user_id: uuid.UUID) -> str:
        user = self._store_user(user_id)
        return str(user_id) if user is None else user.source_identity


# -- helpers --------------------------------------------------------------------------------------


def _window_flag(flag: bool | None, start: dt.time | None, end: dt.time | None) -> bool:
    if flag is None:
        return start is not None and end is not None
    return flag


def _request_id(request: RequestRef) -> uuid.UUID:
    if isinstance(request, ActivationRequest):
        return request.request_id
    if isinstance(request, uuid.UUID):
        return request
    raise InvalidValueError(
        f"a request must be given as an ActivationRequest or its uuid.UUID, not {request!r}",
        field="request",
    )


def _check_timeout(value: float | None, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise InvalidValueError(
            f"{name} must be a positive number of seconds or None, not {value!r}", field=name
        )
    return float(value)


def _aware(value: object, name: str) -> dt.datetime:
    if not isinstance(value, dt.datetime) or value.utcoffset() is None:
        raise InvalidValueError(
            f"{name} must be an aware datetime, such as datetime.now(timezone.utc), not {value!r}",
            field=name,
        )
    return value


def _quoted(names: Iterable[str]) -> str:
    return ", ".join(repr(name) for name in sorted(names, key=str.casefold))


def _past(action: str) -> str:
    return {"approve": "approved", "reject": "rejected", "close": "closed", "pass": "passed"}.get(
        action, f"{action}ed" if not action.endswith("e") else f"{action}d"
    )
