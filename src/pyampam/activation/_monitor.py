"""The PAM Monitoring Service's phone check: stored numbers against the CORP directory's."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING

import attrs

from pyampam._phone import PhoneNumber
from pyampam.events import EventLog, PamEvent
from pyampam.exceptions import NotFoundError, PhoneNumberError
from pyampam.store._protocol import Store

if TYPE_CHECKING:
    from pyampam.directory import SourceDirectory

__all__ = ["PhoneChange", "monitor_phones"]


@attrs.frozen(kw_only=True)
class PhoneChange:
    r"""One user whose CORP phone number differs from the number stored in PAM.

    ``old`` is the stored number, ``new`` the directory's as read with the default country
    code (None when the directory holds none, or holds text that is not a number: then
    ``directory_text`` has that text and ``problem`` says what is wrong with it). ``updated``
    tells whether the stored number was replaced; ``problem`` also says why it was not when
    an update was asked for.
    """

    user_id: uuid.UUID
    source_identity: str
    old: PhoneNumber | None
    new: PhoneNumber | None
    directory_text: str | None
    problem: str | None = None
    updated: bool = False

    @property
    def readable(self) -> bool:
        """Whether the directory's value is a usable phone number (or no number at all)."""
        return self.new is not None or self.directory_text is None


def _unchanged_forms(phone: PhoneNumber) -> frozenset[str]:
    # Text that can only mean the stored number, so the common "nothing changed" case skips
    # the phone number rules entirely.
    forms = {phone.azure_form}
    if phone.extension is None:
        forms.add(phone.e164)
    return frozenset(forms)


def monitor_phones(
    store: Store,
    directory: SourceDirectory,
    events: EventLog,
    *,
    now: dt.datetime,
    default_country_code: int,
    update: bool = False,
) -> list[PhoneChange]:
    """Compare every stored number with the directory's; record event 825 for each change.

    Streams ``store.iter_users()`` and looks each user up in the directory's index, so the
    cost is one pass. Users missing from the directory are skipped. With ``update=True`` the
    directory's number is stored, unless it cannot be read, or it is missing and the user is
    a candidate of a role that needs MFA (clearing it would break that role).
    """
    changes: list[PhoneChange] = []
    for user in store.iter_users():
        entry = directory.lookup(user.source_domain, user.source_account_name)
        if entry is None:
            continue
        raw = entry.phone
        old = user.phone
        new: PhoneNumber | None = None
        problem: str | None = None
        if raw is None:
            if old is None:
                continue
        else:
            if old is not None and raw.strip() in _unchanged_forms(old):
                continue
            try:
                new = PhoneNumber.parse(raw, default_country_code)
            except PhoneNumberError as error:
                problem = str(error)
            if new is not None and new == old:
                continue
        updated = False
        if update and problem is None:
            problem = _store_phone(store, user.object_id, new)
            updated = problem is None
        events.record(
            PamEvent.phone_number_changed(
                time=now,
                user_id=user.object_id,
                old=old,
                new=new if new is not None else raw,
                source_identity=user.source_identity,
                message=_message(user.source_identity, old, new, raw, updated=updated),
            )
        )
        changes.append(
            PhoneChange(
                user_id=user.object_id,
                source_identity=user.source_identity,
                old=old,
                new=new,
                directory_text=raw,
                problem=problem,
                updated=updated,
            )
        )
    return changes


def _store_phone(store: Store, user_id: uuid.UUID, phone: PhoneNumber | None) -> str | None:
    """Store *phone* for the user; why not, if it may not be stored."""
    if phone is None:
        mfa_roles = sorted(
            role.display_name for role in store.roles_with_candidate(user_id) if role.mfa_enabled
        )
        if mfa_roles:
            return (
                "the number was not cleared: the user is a candidate of the MFA role(s) "
                f"{', '.join(repr(name) for name in mfa_roles)}"
            )
    try:
        # Read again: the pass may be long, and other fields may have changed meanwhile.
        current = store.get_user(user_id)
    except NotFoundError:
        return "the user was removed during the check"
    store.replace_user(attrs.evolve(current, phone=phone))
    return None


def _message(
    identity: str,
    old: PhoneNumber | None,
    new: PhoneNumber | None,
    raw: str | None,
    *,
    updated: bool,
) -> str:
    before = "(none)" if old is None else str(old)
    if new is not None:
        after = str(new)
    elif raw is None:
        after = "(none)"
    else:
        after = f"{raw!r}, which is not a usable phone number"
    outcome = "; the stored number was updated" if updated else "; the stored number is unchanged"
    return f"Telephone number has been changed for {identity}: {before} -> {after}{outcome}"
