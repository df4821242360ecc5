"""The MIM PAM REST API client: roles, requests, approvals and session info over HTTP(S)."""

# requests is imported here (and in _auth) only, so `import pyampam.rest` stays light.

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import math
import time
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, TypeAlias, TypeVar
from urllib.parse import quote, urljoin, urlsplit

import requests.exceptions

# By name, because inside PamRestClient `requests` is the method that lists requests.
from requests import Response, Session
from requests.auth import AuthBase

from pyampam._model import RequestStatus
from pyampam.exceptions import InvalidValueError
from pyampam.rest._errors import (
    RequestEndedError,
    RestAuthenticationError,
    RestBadRequestError,
    RestConnectionError,
    RestError,
    RestForbiddenError,
    RestNotFoundError,
    RestProtocolError,
    RestServerError,
    RestTimeoutError,
    RestUnavailableError,
    WaitTimeoutError,
)
from pyampam.rest._filter import F, FilterExpression, render_filter
from pyampam.rest._models import (
    PendingApproval,
    RemoteRequest,
    RemoteRole,
    collection_items,
    format_datetime,
    normalize_id,
    single_entity,
)

if TYPE_CHECKING:
    from types import TracebackType

    from typing_extensions import Self

__all__ = [
    "DEFAULT_POLL_INTERVAL",
    "DEFAULT_TIMEOUT",
    "ENDED_STATUSES",
    "Filter",
    "PamRestClient",
]

#: Seconds to connect, and seconds to wait for each read of an answer.
DEFAULT_TIMEOUT: tuple[float, float] = (10.0, 60.0)
#: Seconds between two looks at a request in wait_until_active().
DEFAULT_POLL_INTERVAL = 5.0
#: Statuses from which a request never becomes Active (Closing only ever leads to Closed).
ENDED_STATUSES = frozenset(
    {RequestStatus.REJECTED, RequestStatus.EXPIRED, RequestStatus.CLOSED, RequestStatus.CLOSING}
)

#: What ``filter=`` accepts: an expression built with ``F``, raw OData text, or None.
Filter: TypeAlias = FilterExpression | str | None

_log = logging.getLogger("pyampam.rest")
_T = TypeVar("_T")
# A server that keeps sending next links would keep us here for ever.
_MAX_PAGES = 1000
_MAX_MESSAGE = 1000
# The property get_request() filters on, spelled as MIM's request entity spells it.
_REQUEST_ID = "RequestId"

# Status code -> error class and what to do about it.
_STATUS_ERRORS: dict[int, tuple[type[RestError], str]] = {
    400: (
        RestBadRequestError,
        "MIM could not read the call; check the filter's property names and literals",
    ),
    401: (
        RestAuthenticationError,
        "MIM did not accept the credentials; check the user name and password (or Kerberos "
        "ticket), and that the account exists in MIM",
    ),
    403: (
        RestForbiddenError,
        "the account may not do this: only a role's candidates may request it, only its "
        "approvers may approve, only the requestor may close",
    ),
    404: (
        RestNotFoundError,
        "no such object, or the base URL is wrong (it usually ends in /api/pamresources/)",
    ),
    408: (RestTimeoutError, "MIM did not finish in time; try again"),
    500: (RestServerError, "MIM failed while handling the call; see its event log"),
    502: (RestUnavailableError, "the PAM REST API is not reachable behind its proxy; try later"),
    503: (
        RestUnavailableError,
        "the PAM REST API or the MIM Service is down or starting; try again later",
    ),
    504: (RestTimeoutError, "a gateway gave up waiting for MIM; try again"),
}


@functools.cache
def _user_agent() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"pyampam/{version('pyampam')}"
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "pyampam"


def _normalize_base_url(base_url: object) -> str:
    if not isinstance(base_url, str):
        raise InvalidValueError(
            f"base_url must be a string, not {type(base_url).__name__}", field="base_url"
        )
    parts = urlsplit(base_url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise InvalidValueError(
            "base_url must be an http(s) URL such as http://mim.contoso.com:8086/api/pamresources/",
            field="base_url",
        )
    if parts.username is not None or parts.password is not None:
        # Not echoed: the URL holds a secret. Credentials belong in auth=.
        raise InvalidValueError(
            "base_url must not hold a user name or password; pass auth= instead",
            field="base_url",
        )
    if parts.query or parts.fragment:
        raise InvalidValueError(
            "base_url must not have a query or fragment; the client adds ?v= itself",
            field="base_url",
        )
    path = parts.path if parts.path.endswith("/") else parts.path + "/"
    return f"{parts.scheme.lower()}://{parts.netloc}{path}"


def _seconds(value: float | dt.timedelta, field: str, *, positive: bool) -> float:
    seconds = value.total_seconds() if isinstance(value, dt.timedelta) else value
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise InvalidValueError(
            f"{field} must be seconds or a timedelta, not {type(value).__name__}", field=field
        )
    if seconds < 0 or (positive and seconds == 0) or math.isnan(seconds):
        raise InvalidValueError(
            f"{field} must be {'positive' if positive else 'zero or more'}, not {value}",
            field=field,
        )
    return float(seconds)


def _guid(value: object, what: str) -> str:
    """The GUID MIM addresses an object by, from the object itself or its id."""
    text = normalize_id(value, field=what) if isinstance(value, (str, uuid.UUID)) else None
    try:
        return str(uuid.UUID(text)) if text else _raise_not_guid(value, what)
    except ValueError:
        return _raise_not_guid(value, what)


def _raise_not_guid(value: object, what: str) -> str:
    raise InvalidValueError(f"{what} must be a GUID, not {value!r}", field=what)


def _mim_message(response: Response) -> str | None:
    """The message MIM put in an error answer (OData, Web API or plain text), if any."""
    content_type = response.headers.get("Content-Type", "").lower()
    try:
        body = json.loads(response.content) if response.content else None
    except (ValueError, RecursionError):
        body = None
    message: object = None
    if isinstance(body, Mapping):
        error = body.get("odata.error", body.get("error"))
        if isinstance(error, Mapping):
            message = error.get("message")
            if isinstance(message, Mapping):
                message = message.get("value")
        if message is None:
            message = body.get("ExceptionMessage") or body.get("Message") or body.get("message")
    elif body is None and content_type.startswith("text/plain"):
        message = response.text.strip()
    if not isinstance(message, str) or not message.strip():
        return None
    message = message.strip()
    return message if len(message) <= _MAX_MESSAGE else message[: _MAX_MESSAGE - 3] + "..."


class PamRestClient:
    """A client of MIM's PAM REST API (``http://host:8086/api/pamresources/``).

    ``auth`` is any ``requests`` auth object, typically :func:`pyampam.rest.windows_auth`;
    ``verify`` is ``True``, ``False`` or a CA bundle path; ``timeout`` is seconds, or
    (connect, read) seconds; ``api_version`` is sent as ``?v=`` on every call (``None`` sends
    none); ``session`` is a ``Session`` to send through (the caller keeps owning it).

    Every failure is a :class:`RestError`. Calls are never retried, as a POST might have been
    carried out. One client is meant for one thread at a time. Use it as a context manager, or
    call :meth:`close`.
    """

    def __init__(
        self,
        base_url: str,
        *,
        auth: AuthBase | tuple[str, str] | None = None,
        verify: bool | str = True,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
        api_version: int | None = 1,
        session: Session | None = None,
    ) -> None:
        self._base_url = _normalize_base_url(base_url)
        if api_version is not None and (
            isinstance(api_version, bool) or not isinstance(api_version, int) or api_version < 1
        ):
            raise InvalidValueError(
                f"api_version must be a positive whole number or None, not {api_version!r}",
                field="api_version",
            )
        if isinstance(timeout, tuple):
            if len(timeout) != 2:
                raise InvalidValueError(
                    "timeout must be seconds or a (connect, read) pair of seconds",
                    field="timeout",
                )
            self._timeout: float | tuple[float, float] = (
                _seconds(timeout[0], "timeout", positive=True),
                _seconds(timeout[1], "timeout", positive=True),
            )
        else:
            self._timeout = _seconds(timeout, "timeout", positive=True)
        self._api_version = api_version
        self._auth = auth
        self._verify = verify
        self._owns_session = session is None
        self._session = session if session is not None else Session()
        self._closed = False

    @property
    def base_url(self) -> str:
        """The base URL, always ending in ``/``."""
        return self._base_url

    @property
    def api_version(self) -> int | None:
        """The ``v=`` sent with every call."""
        return self._api_version

    def __repr__(self) -> str:
        return f"PamRestClient({self._base_url!r}, api_version={self._api_version!r})"

    def close(self) -> None:
        """Close the connections (of a session the client made itself); later calls fail."""
        self._closed = True
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- the operations ----------------------------------------------------------------------

    def roles(self, *, filter: Filter = None) -> list[RemoteRole]:
        """The roles the caller may request (``GET pamroles``)."""
        return self._list("pamroles", filter, RemoteRole.from_json)

    def requests(self, *, filter: Filter = None) -> list[RemoteRequest]:
        """The caller's activation requests (``GET pamrequests``)."""
        return self._list("pamrequests", filter, RemoteRequest.from_json)

    def get_request(self, request: RemoteRequest | str | uuid.UUID) -> RemoteRequest:
        """One of the caller's requests, read again; :class:`RestNotFoundError` if it is gone."""
        request_id = _guid(_request_id(request), "request")
        condition = F[_REQUEST_ID] == uuid.UUID(request_id)
        try:
            found = self.requests(filter=condition)
        except RestBadRequestError:
            # A MIM that cannot filter on the id still lists the requests; look among them.
            _log.warning("pamrequests refused a filter on %s; listing all requests", _REQUEST_ID)
            found = self.requests()
        for candidate in found:
            if candidate.request_id == request_id:
                return candidate
        raise RestNotFoundError(
            f"MIM has no request {request_id} of this account (finished requests are removed "
            "after the configured number of days)",
            method="GET",
            path="pamrequests",
        )

    def create_request(
        self,
        role: RemoteRole | str | uuid.UUID,
        *,
        justification: str = "",
        requested_ttl: dt.timedelta | int | None = None,
        requested_time: dt.datetime | None = None,
    ) -> RemoteRequest:
        """Ask to activate a role (``POST pamrequests``); returns the new request.

        ``requested_ttl`` (a timedelta or whole seconds) defaults to the role's TTL;
        ``requested_time`` (an aware datetime) to now.
        """
        role_id = role.role_id if isinstance(role, RemoteRole) else _guid(role, "role")
        if not isinstance(justification, str):
            raise InvalidValueError("justification must be a string", field="justification")
        body: dict[str, object] = {"RoleId": role_id, "Justification": justification}
        if requested_ttl is not None:
            body["RequestedTTL"] = str(_whole_seconds(requested_ttl))
        if requested_time is not None:
            if not isinstance(requested_time, dt.datetime) or requested_time.utcoffset() is None:
                raise InvalidValueError(
                    f"requested_time must be an aware datetime (e.g. in timezone.utc), "
                    f"not {requested_time!r}",
                    field="requested_time",
                )
            body["RequestedTime"] = format_datetime(requested_time)
        answer = self._call("POST", "pamrequests", body=body)
        if answer is None:
            raise RestProtocolError(
                "POST pamrequests succeeded but returned no request; list requests to find it",
                method="POST",
                path="pamrequests",
            )
        return self._parse("POST", "pamrequests", RemoteRequest.from_json, single_entity(answer))

    def close_request(self, request: RemoteRequest | str | uuid.UUID) -> None:
        """End an active (or pending) request now (``POST pamrequests(guid'ID')/Close``)."""
        request_id = _guid(_request_id(request), "request")
        self._call("POST", f"pamrequests(guid'{request_id}')/Close", body=None)

    def requests_to_approve(self, *, filter: Filter = None) -> list[PendingApproval]:
        """The requests waiting for the caller's approval (``GET pamrequeststoapprove``)."""
        return self._list("pamrequeststoapprove", filter, PendingApproval.from_json)

    def approve(self, pending: PendingApproval | str | uuid.UUID) -> None:
        """Approve a request (``POST pamrequeststoapprove(guid'ID')/Approve``)."""
        self._decide(pending, "Approve")

    def reject(self, pending: PendingApproval | str | uuid.UUID) -> None:
        """Reject a request (``POST pamrequeststoapprove(guid'ID')/Reject``)."""
        self._decide(pending, "Reject")

    def session_info(self) -> str:
        """The account MIM sees the caller as, e.g. ``CONTOSO\\alice`` (``GET sessioninfo``)."""
        answer = self._call("GET", "sessioninfo")
        name = _session_name(answer)
        if name is None:
            raise RestProtocolError(
                f"GET sessioninfo: expected the caller's DOMAIN\\user, got {_shown(answer)}",
                method="GET",
                path="sessioninfo",
            )
        return name

    def wait_until_active(
        self,
        request: RemoteRequest | str | uuid.UUID,
        *,
        timeout: float | dt.timedelta,
        poll: float | dt.timedelta = DEFAULT_POLL_INTERVAL,
    ) -> RemoteRequest:
        """Poll until the request is Active, and return it as then read.

        Raises :class:`RequestEndedError` when it is Rejected, Expired, Closing or Closed, and
        :class:`WaitTimeoutError` when ``timeout`` seconds pass first. Connection failures,
        timeouts and 5xx answers while polling are retried until the deadline.
        """
        seconds = _seconds(timeout, "timeout", positive=False)
        interval = _seconds(poll, "poll", positive=True)
        request_id = _guid(_request_id(request), "request")
        deadline = time.monotonic() + seconds
        current: RemoteRequest | None = request if isinstance(request, RemoteRequest) else None
        last_error: RestError | None = None
        while True:
            try:
                current = self.get_request(request_id)
                last_error = None
            except (RestConnectionError, RestTimeoutError, RestServerError) as error:
                _log.warning("waiting for request %s: %s", request_id, error)
                last_error = error
            if current is not None and last_error is None:
                if current.status is RequestStatus.ACTIVE:
                    return current
                if current.status in ENDED_STATUSES:
                    raise RequestEndedError(
                        f"request {request_id} ended as {current.status} without becoming Active",
                        request=current,
                    )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                status = current.status if current is not None else "unknown"
                raise WaitTimeoutError(
                    f"request {request_id} was not Active after {seconds:g} s (status "
                    f"{status}); it goes on in MIM: wait again or close it",
                    request=current,
                ) from last_error
            time.sleep(min(interval, remaining))

    # -- plumbing ----------------------------------------------------------------------------

    def _decide(self, pending: PendingApproval | str | uuid.UUID, action: str) -> None:
        raw = pending.approval_id if isinstance(pending, PendingApproval) else pending
        approval_id = _guid(raw, "pending")
        self._call("POST", f"pamrequeststoapprove(guid'{approval_id}')/{action}", body=None)

    def _list(self, path: str, filter: Filter, reader: Callable[[object], _T]) -> list[_T]:
        if filter is not None:
            filter = render_filter(filter)
        url: str | None = self._url(path, filter)
        found: list[_T] = []
        for _ in range(_MAX_PAGES):
            assert url is not None  # noqa: S101 - the loop ends when there is no next link
            answer = self._send_for_json("GET", path, url, None)
            try:
                items, next_link = collection_items(answer)
            except RestProtocolError as error:
                raise self._protocol_error("GET", path, error) from error
            found.extend(self._parse("GET", path, reader, item) for item in items)
            if next_link is None:
                return found
            url = self._next_url(path, next_link)
        raise RestProtocolError(
            f"GET {path}: more than {_MAX_PAGES} pages; narrow the filter",
            method="GET",
            path=path,
        )

    def _parse(self, method: str, path: str, reader: Callable[[object], _T], item: object) -> _T:
        try:
            return reader(item)
        except RestProtocolError as error:
            raise self._protocol_error(method, path, error) from error
        except InvalidValueError as error:
            # A value MIM sent that the model refuses (say, a wrong type the reader let by).
            raise RestProtocolError(
                f"{method} {path}: {error}", method=method, path=path
            ) from error

    @staticmethod
    def _protocol_error(method: str, path: str, error: RestProtocolError) -> RestProtocolError:
        return RestProtocolError(f"{method} {path}: {error.message}", method=method, path=path)

    def _url(self, path: str, filter: str | None = None) -> str:
        query = []
        if self._api_version is not None:
            query.append(f"v={self._api_version}")
        if filter is not None:
            try:
                query.append("$filter=" + quote(filter, safe="'(),:"))
            except UnicodeEncodeError as error:
                raise InvalidValueError(
                    "the filter holds a lone surrogate, which cannot be sent", field="filter"
                ) from error
        return self._base_url + path + ("?" + "&".join(query) if query else "")

    def _next_url(self, path: str, link: str) -> str:
        url = urljoin(self._base_url, link)
        base, target = urlsplit(self._base_url), urlsplit(url)
        if (target.scheme.lower(), target.netloc.lower()) != (
            base.scheme.lower(),
            base.netloc.lower(),
        ):
            # Following it would send our credentials to another server.
            raise RestProtocolError(
                f"GET {path}: the next page is on another server ({target.netloc}); not followed",
                method="GET",
                path=path,
            )
        if self._api_version is not None and "v=" not in target.query:
            url += ("&" if target.query else "?") + f"v={self._api_version}"
        return url

    def _call(self, method: str, path: str, *, body: object = None) -> object:
        return self._send_for_json(method, path, self._url(path), body)

    def _send_for_json(self, method: str, path: str, url: str, body: object) -> object:
        response = self._send(method, path, url, body)
        if not response.content or response.status_code == 204:
            return None
        try:
            return json.loads(response.content)
        except (ValueError, RecursionError) as error:
            content_type = response.headers.get("Content-Type", "no content type")
            raise RestProtocolError(
                f"{method} {path} answered {response.status_code} with a body that is not "
                f"JSON ({content_type}); is the base URL the PAM REST API?",
                status_code=response.status_code,
                method=method,
                path=path,
            ) from error

    def _send(self, method: str, path: str, url: str, body: object) -> Response:
        if self._closed:
            raise RestError(
                "this PamRestClient is closed; make a new one", method=method, path=path
            )
        headers = {"Accept": "application/json", "User-Agent": _user_agent()}
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json; charset=utf-8"
        started = time.monotonic()
        try:
            response = self._session.request(
                method,
                url,
                data=data,
                headers=headers,
                auth=self._auth,
                verify=self._verify,
                timeout=self._timeout,
                allow_redirects=False,
            )
        except requests.exceptions.ConnectTimeout as error:
            raise RestTimeoutError(
                f"{method} {path}: could not connect to {self._host()} in time; check the host "
                "name and port, and that IIS runs",
                method=method,
                path=path,
            ) from error
        except requests.exceptions.Timeout as error:
            uncertain = " MIM may still have carried it out." if method != "GET" else ""
            raise RestTimeoutError(
                f"{method} {path}: {self._host()} gave no answer in time.{uncertain}",
                method=method,
                path=path,
            ) from error
        except requests.exceptions.SSLError as error:
            raise RestConnectionError(
                f"{method} {path}: the TLS handshake with {self._host()} failed; check the "
                "server certificate, or pass verify= a CA bundle",
                method=method,
                path=path,
            ) from error
        except requests.exceptions.ConnectionError as error:
            raise RestConnectionError(
                f"{method} {path}: could not talk to {self._host()} "
                f"({type(error).__name__}); check the base URL and that the site runs",
                method=method,
                path=path,
            ) from error
        except requests.exceptions.RequestException as error:
            raise RestProtocolError(
                f"{method} {path}: the answer from {self._host()} could not be read "
                f"({type(error).__name__})",
                method=method,
                path=path,
            ) from error
        _log.debug(
            "%s %s -> %d (%.0f ms)",
            method,
            path,
            response.status_code,
            (time.monotonic() - started) * 1000,
        )
        self._raise_for_status(method, path, response)
        return response

    def _host(self) -> str:
        return urlsplit(self._base_url).netloc

    def _raise_for_status(self, method: str, path: str, response: Response) -> None:
        code = response.status_code
        if 200 <= code < 300:
            return
        if 300 <= code < 400:
            location = urlsplit(response.headers.get("Location", ""))
            where = (
                f"{location.scheme}://{location.hostname}{location.path}"
                if location.hostname
                else location.path
            )
            raise RestProtocolError(
                f"{method} {path} was redirected ({code}) to {where or 'nowhere'}; check the "
                "base URL (http or https, host, /api/pamresources/)",
                status_code=code,
                method=method,
                path=path,
            )
        mim = _mim_message(response)
        cls, hint = _STATUS_ERRORS.get(code, (RestServerError, "MIM failed; try again later"))
        if code not in _STATUS_ERRORS and code < 500:
            cls, hint = RestError, "MIM refused the call"
        reason = f" {response.reason}" if response.reason else ""
        said = f": MIM says: {mim}" if mim else ""
        raise cls(
            f"{method} {path} answered {code}{reason}{said}. {hint}",
            status_code=code,
            mim_message=mim,
            method=method,
            path=path,
        )


def _request_id(request: RemoteRequest | str | uuid.UUID) -> object:
    return request.request_id if isinstance(request, RemoteRequest) else request


def _whole_seconds(value: dt.timedelta | int) -> int:
    if isinstance(value, dt.timedelta):
        seconds = value.total_seconds()
        if not seconds.is_integer():
            raise InvalidValueError(
                f"requested_ttl is sent as whole seconds; {value} is not", field="requested_ttl"
            )
        value = int(seconds)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InvalidValueError(
            f"requested_ttl must be a positive timedelta or number of seconds, not {value!r}",
            field="requested_ttl",
        )
    return value


def _session_name(answer: object) -> str | None:
    """The DOMAIN\\user of a sessioninfo answer, in any of the shapes it might take.

    MIM documents ``{"value": [{"Username": "DOMAIN\\user"}]}``; a bare string, a single
    object and ``Domain`` + ``Username`` parts are read too.
    """
    if isinstance(answer, Mapping) and "value" in answer:
        answer = answer["value"]  # the OData envelope
    if isinstance(answer, list) and len(answer) == 1:
        answer = answer[0]
    name: object = answer
    if isinstance(answer, Mapping):
        fields = {key.lower(): value for key, value in answer.items() if isinstance(key, str)}
        keys = ("username", "domainuser", "user", "accountname", "name")
        name = next((fields[key] for key in keys if isinstance(fields.get(key), str)), None)
        domain = fields.get("domain")
        if (
            isinstance(name, str)
            and isinstance(domain, str)
            and domain.strip()
            and "\\" not in name
        ):
            name = f"{domain.strip()}\\{name.strip()}"
    if isinstance(name, str) and name.strip():
        return name.strip()
    return None


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
