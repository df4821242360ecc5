"""The PAM REST API itself, apart from HTTP and logons: routes, MIM's entities, its errors.

:class:`PamRestApi` answers one authenticated request (:class:`ApiRequest`) with an
:class:`Answer`, or raises :class:`ApiError` for an OData error. The test server feeds it; it
knows nothing of sockets, NTLM or faults.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import urllib.parse
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs

from pyampam.exceptions import (
    ActivationDeniedError,
    ConcurrentUpdateError,
    InvalidTransitionError,
    InvalidValueError,
    NotACandidateError,
    NotAnApproverError,
    NotFoundError,
    PyampamError,
    SelfApprovalError,
)
from pyampam.testing._rest_entities import (
    APPROVAL_SCHEMA,
    REQUEST_SCHEMA,
    ROLE_SCHEMA,
    approval_id,
    approval_record,
    request_record,
    role_record,
    to_json,
)
from pyampam.testing._rest_odata import ODataFilter, ODataFilterError, Schema, parse_datetime

if TYPE_CHECKING:
    from pyampam._model import ActivationRequest, User
    from pyampam.activation import PamService

__all__ = [
    "API_VERSION",
    "BASE_PATH",
    "SESSION_PATH",
    "Answer",
    "ApiError",
    "ApiRequest",
    "PamRestApi",
    "odata_error",
    "status_of",
]

BASE_PATH = "/api/pamresources/"
#: Where MIM's reference page puts session info; Microsoft's sample portal asks
#: ``/api/pamresources/sessioninfo`` instead, and both are served.
SESSION_PATH = "/api/session/sessioninfo"
API_VERSION = "1"

_KEY = re.compile(r"guid'(?P<id>[^']*)'")
_RESOURCE = re.compile(r"(?P<set>[A-Za-z$]+)(?:\((?P<key>[^)]*)\))?(?:/(?P<action>[A-Za-z]+))?")
_SLASHED = re.compile(
    r"([0-9]{4})/([0-9]{1,2})/([0-9]{1,2})[ T]([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?"
)


@attrs.frozen
class Answer:
    """What to send: a status, a JSON document (or raw bytes, or nothing) and extra headers."""

    status: int
    document: dict[str, Any] | None = None
    headers: tuple[tuple[str, str], ...] = ()
    raw: bytes | None = None


class ApiError(Exception):
    """An OData error to answer with: a status and a message."""

    def __init__(
        self, status: int, message: str, *, headers: tuple[tuple[str, str], ...] = ()
    ) -> None:
        self.status = status
        self.message = message
        self.headers = headers
        super().__init__(message)


def odata_error(message: str) -> dict[str, Any]:
    """The body of an error answer, as MIM's OData layer writes it."""
    return {"odata.error": {"code": "", "message": {"lang": "en-US", "value": message}}}


def status_of(error: PyampamError) -> int:
    """The HTTP status a refusal of the PAM engine is answered with.

    Not found 404; not a candidate, not an approver, self-approval 403; other policy
    violations, bad values and impossible transitions 400; a concurrent update 503 (try
    again); anything else 500.
    """
    if isinstance(error, NotFoundError):
        return 404
    if isinstance(error, (NotACandidateError, NotAnApproverError, SelfApprovalError)):
        return 403
    if isinstance(error, (ActivationDeniedError, InvalidValueError, InvalidTransitionError)):
        return 400
    if isinstance(error, ConcurrentUpdateError):
        return 503
    return 500


class PamRestApi:
    """MIM's PAM REST API over a :class:`~pyampam.activation.PamService`.

    ``require_version`` makes ``?v=1`` mandatory (MIM's reference treats a missing version as
    the latest one).
    """

    def __init__(self, service: PamService, *, require_version: bool = True) -> None:
        self.service = service
        self.require_version = require_version

    def _pam_user(self, caller: str) -> User:
        domain, _, account = caller.partition("\\")
        found = self.service.get_users(source_domain=domain, source_account_name=account)
        if not found:
            raise ApiError(
                403,
                f"{caller} is logged on but is not a PAM user, so has no PAM roles or requests; "
                "ask a PAM administrator to create it (New-PAMUser)",
            )
        return found[0]

    def answer(self, request: ApiRequest) -> Answer:
        """Serve one authenticated request; raises ApiError for an OData error."""
        if request.path.rstrip("/") == SESSION_PATH:
            self._check_query(request, allow_filter=False)
            return self._session_info(request)
        if not request.path.startswith(BASE_PATH):
            raise ApiError(404, f"no resource at {request.path}; the API is under {BASE_PATH}")
        resource = request.path[len(BASE_PATH) :]
        if resource.endswith("/"):
            resource = resource[:-1]
        match = _RESOURCE.fullmatch(resource)
        if match is None:
            raise ApiError(404, f"no resource at {request.path}")
        entity_set, key_text, action = match["set"], match["key"], match["action"]
        key = None if key_text is None else _key(key_text)
        methods = self._routes(request, key).get((entity_set, key is not None, action))
        if methods is None:
            raise ApiError(404, f"no resource at {request.path}")
        handler = methods.get(request.method)
        if handler is None:
            allowed = ", ".join(methods)
            raise ApiError(
                405,
                f"{request.method} is not allowed on {resource}; use {allowed}",
                headers=(("Allow", allowed),),
            )
        self._check_query(
            request,
            allow_filter=request.method == "GET" and key is None and entity_set != "sessioninfo",
        )
        if entity_set != "sessioninfo":
            self._bring_up_to_date()
        return handler()

    def _routes(
        self, request: ApiRequest, key: uuid.UUID | None
    ) -> dict[tuple[str, bool, str | None], dict[str, Callable[[], Answer]]]:
        """(entity set, has a key, action) -> method -> handler."""
        return {
            ("pamroles", False, None): {"GET": lambda: self._roles(request)},
            ("pamrequests", False, None): {
                "GET": lambda: self._requests(request),
                "POST": lambda: self._create_request(request),
            },
            ("pamrequests", True, None): {"GET": lambda: self._one_request(request, key)},
            ("pamrequests", True, "Close"): {"POST": lambda: self._close(request, key)},
            ("pamrequeststoapprove", False, None): {"GET": lambda: self._approvals(request)},
            ("pamrequeststoapprove", True, "Approve"): {
                "POST": lambda: self._decide(request, key, approve=True)
            },
            ("pamrequeststoapprove", True, "Reject"): {
                "POST": lambda: self._decide(request, key, approve=False)
            },
            ("sessioninfo", False, None): {"GET": lambda: self._session_info(request)},
        }

    def _check_query(self, request: ApiRequest, *, allow_filter: bool) -> None:
        for name in request.query:
            if name.startswith("$") and not (name == "$filter" and allow_filter):
                raise ApiError(
                    400,
                    f"the query option {name} is not supported here"
                    + ("; only $filter is" if allow_filter else ""),
                )
        versions = request.query.get("v")
        if versions is None:
            if self.require_version:
                raise ApiError(
                    400,
                    "the API version is missing; add ?v=1 to the request URL "
                    f"(this server serves version {API_VERSION})",
                )
            return
        if versions != API_VERSION:
            raise ApiError(
                400,
                f"the API version {versions!r} is not supported; use v={API_VERSION}",
            )

    def _bring_up_to_date(self) -> None:
        # MIM starts scheduled requests and expires active ones with its own jobs; here each
        # request does it, so a client polling the API sees statuses move.
        self.service.start_due()
        self.service.expire_due()

    def _collection(
        self,
        request: ApiRequest,
        name: str,
        records: list[dict[str, Any]],
        schema: Schema,
        entity: str,
    ) -> Answer:
        text = request.query.get("$filter")
        if text is not None:
            try:
                condition = ODataFilter.parse(text).check(schema, entity=entity)
            except ODataFilterError as error:
                raise ApiError(400, str(error)) from None
            records = [record for record in records if condition.matches(record)]
        return Answer(
            200,
            {
                "odata.metadata": request.metadata(name),
                "value": [to_json(record, schema) for record in records],
            },
        )

    def _roles(self, request: ApiRequest) -> Answer:
        user = self._pam_user(request.caller)
        today = self.service.now().date()
        roles = self.service.get_roles(candidate=user)
        records = [role_record(role, today=today) for role in roles]
        return self._collection(request, "pamroles", records, ROLE_SCHEMA, "PamRole")

    def _requests(self, request: ApiRequest) -> Answer:
        user = self._pam_user(request.caller)
        records = [request_record(one) for one in self.service.get_requests(user)]
        return self._collection(request, "pamrequests", records, REQUEST_SCHEMA, "PamRequest")

    def _element(self, request: ApiRequest, found: ActivationRequest, status: int = 200) -> Answer:
        document: dict[str, Any] = {"odata.metadata": request.metadata("pamrequests/@Element")}
        document.update(to_json(request_record(found), REQUEST_SCHEMA))
        location = f"{request.origin}{BASE_PATH}pamrequests(guid'{found.request_id}')"
        return Answer(status, document, headers=(("Location", location),))

    def _own_request(self, request: ApiRequest, key: uuid.UUID | None) -> ActivationRequest:
        assert key is not None  # noqa: S101 -- the route has a key
        user = self._pam_user(request.caller)
        found = self.service.get_request(key)
        if found.requestor_id != user.object_id:
            raise ApiError(
                403,
                f"request {key} was made by someone else; {request.caller} can only see and "
                "close their own requests",
            )
        return found

    def _one_request(self, request: ApiRequest, key: uuid.UUID | None) -> Answer:
        return self._element(request, self._own_request(request, key))

    def _create_request(self, request: ApiRequest) -> Answer:
        user = self._pam_user(request.caller)
        fields = request.create_fields()
        role_text = fields.get("roleid")
        if not role_text:
            raise ApiError(400, "RoleId is required: the GUID of the PAM role to activate")
        try:
            role_id = uuid.UUID(str(role_text))
        except ValueError:
            raise ApiError(400, f"RoleId {role_text!r} is not a GUID") from None
        try:
            role = self.service.get_role(role_id)
        except NotFoundError:
            raise ApiError(
                400, f"no PAM role has the id {role_id}; list the roles with GET pamroles"
            ) from None
        ttl = _ttl(fields.get("requestedttl"))
        justification = fields.get("justification") or ""
        if not isinstance(justification, str):
            raise ApiError(400, "Justification must be text")
        start = _requested_time(fields.get("requestedtime"), self.service.now())
        made = self.service.request_activation(
            user,
            role,
            justification=justification,
            requested_ttl=ttl,
            requested_time=start,
            wait=False,
        )
        return self._element(request, made, status=201)

    def _close(self, request: ApiRequest, key: uuid.UUID | None) -> Answer:
        found = self._own_request(request, key)
        self.service.close(found, reason=f"closed by {request.caller} through the REST API")
        return Answer(200)

    def _approvals(self, request: ApiRequest) -> Answer:
        user = self._pam_user(request.caller)
        records = []
        for pending in self.service.requests_to_approve(user):
            role_name = _role_name(self.service, pending.role_id)
            requestor = _stored_user(self.service, pending.requestor_id)
            records.append(approval_record(pending, role_name, requestor))
        return self._collection(
            request, "pamrequeststoapprove", records, APPROVAL_SCHEMA, "PamRequestToApprove"
        )

    def _decide(self, request: ApiRequest, key: uuid.UUID | None, *, approve: bool) -> Answer:
        user = self._pam_user(request.caller)
        target = next(
            (one for one in self.service.get_requests() if approval_id(one.request_id) == key),
            None,
        )
        if target is None:
            raise ApiError(
                404,
                f"no approval object has the id {key}; take ApprovalObjectID/Value from GET "
                "pamrequeststoapprove (the request's own id is FIMRequestID)",
            )
        if approve:
            self.service.approve(target, user)
        else:
            self.service.reject(target, user, reason="rejected through the REST API")
        return Answer(200)

    def _session_info(self, request: ApiRequest) -> Answer:
        return Answer(
            200,
            {
                "odata.metadata": request.metadata("sessioninfo"),
                "value": [{"Username": request.caller}],
            },
        )


def _role_name(service: PamService, role_id: uuid.UUID) -> str | None:
    try:
        return service.get_role(role_id).display_name
    except NotFoundError:
        return None


def _stored_user(service: PamService, user_id: uuid.UUID) -> User | None:
    try:
        return service.get_user(user_id)
    except NotFoundError:
        return None


def _key(text: str) -> uuid.UUID:
    match = _KEY.fullmatch(text)
    if match is None:
        raise ApiError(
            400, f"the key ({text}) must be written guid'xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx'"
        )
    try:
        return uuid.UUID(match["id"])
    except ValueError:
        raise ApiError(400, f"the key {text} does not hold a GUID") from None


def _ttl(value: object) -> dt.timedelta | None:
    """A RequestedTTL in seconds, or None (the role's TTL) when it is missing or empty.

    MIM's reference marks RequestedTTL required; what MIM does without one is not published.
    This server gives the role's TTL, so a client that leaves it out works here: send it to
    be safe with a real MIM.
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ApiError(400, f"RequestedTTL must be a number of seconds, not {value!r}")
    try:
        seconds = int(str(value).strip())
    except ValueError:
        raise ApiError(
            400, f"RequestedTTL must be a whole number of seconds, not {value!r}"
        ) from None
    if seconds <= 0:
        raise ApiError(400, f"RequestedTTL must be positive, not {seconds}")
    return dt.timedelta(seconds=seconds)


def _requested_time(value: object, now: dt.datetime) -> dt.datetime | None:
    """A RequestedTime, or None for "now": empty, missing, or not later than now."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ApiError(400, f"RequestedTime must be a date and time, not {value!r}")
    slashed = _SLASHED.fullmatch(value.strip())
    try:
        if slashed is not None:
            # The form MIM's sample portal sends ("2015/07/11 23:40"), read here as UTC.
            year, month, day, hour, minute, second = (int(part or 0) for part in slashed.groups())
            moment = dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.timezone.utc)
        else:
            moment = parse_datetime(value)
    except ValueError:
        raise ApiError(
            400,
            f"RequestedTime {value!r} is not a date and time; write 2015-07-12T06:40:00Z",
        ) from None
    return moment if moment > now else None


class ApiRequest:
    """One authenticated request as the API reads it: what, by whom, through which host."""

    def __init__(
        self,
        *,
        method: str,
        path: str,
        query: dict[str, str],
        body: bytes,
        content_type: str,
        caller: str,
        origin: str,
    ) -> None:
        self.method = method
        self.path = path
        self.query = query
        self.body = body
        self.content_type = content_type
        self.caller = caller
        self.origin = origin

    def metadata(self, fragment: str) -> str:
        return f"{self.origin}{BASE_PATH}%24metadata#{fragment}"

    def create_fields(self) -> dict[str, object]:
        """Create's parameters, from the query and the body (JSON or a form), by lower-case name."""
        fields: dict[str, object] = {
            name.lower(): value
            for name, value in self.query.items()
            if not name.startswith("$") and name != "v"
        }
        if not self.body.strip():
            return fields
        media = self.content_type.split(";")[0].strip().lower()
        if media == "application/json":
            try:
                document = json.loads(self.body)
            except (UnicodeDecodeError, ValueError):
                raise ApiError(400, "the request body is not valid JSON") from None
            if not isinstance(document, dict):
                raise ApiError(400, "the request body must be a JSON object")
            fields.update({str(name).lower(): value for name, value in document.items()})
        elif media == "application/x-www-form-urlencoded":
            try:
                text = self.body.decode("utf-8")
            except UnicodeDecodeError:
                raise ApiError(400, "the form body is not UTF-8") from None
            form = urllib.parse.parse_qsl(text, keep_blank_values=True)
            fields.update({name.lower(): value for name, value in form})
        else:
            raise ApiError(
                415,
                f"the body's Content-Type {self.content_type or '(none)'} is not supported; "
                "send application/json",
            )
        return fields
