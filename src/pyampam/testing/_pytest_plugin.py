"""pytest fixtures for code that uses pyampam: a fake MFA provider, a test PKI, a test server.

Registered as the ``pyampam`` pytest plugin, so it loads in every pytest run of every project
that installs pyampam: it imports nothing but pytest at start-up, and each fixture imports
what it needs when it is first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pyampam.testing._fake import FakeProvider
    from pyampam.testing._phonefactor_server import PhoneFactorTestServer
    from pyampam.testing._pki import TestPki

__all__ = ["fake_mfa_provider", "phonefactor_server", "test_pki"]


@pytest.fixture
def fake_mfa_provider() -> FakeProvider:
    """A fresh :class:`~pyampam.testing.FakeProvider`; calls end at once as ``SUCCESS_NO_PIN``.

    As with the real provider, that outcome authenticates only the modes without a PIN (standard,
    voiceprint, two-way SMS, phone app standard); it denies PIN mode, both one-way SMS modes,
    two-way SMS with PIN and phone app PIN. Script other outcomes with
    ``fake_mfa_provider.script(username, ...)``.
    """
    from pyampam.testing._fake import FakeProvider

    return FakeProvider()


@pytest.fixture(scope="session")
def test_pki() -> TestPki:
    """A throw-away :class:`~pyampam.testing.TestPki`, made once per test session.

    ``test_pki.credentials()`` gives SDK credentials that :func:`phonefactor_server` accepts,
    ``test_pki.client_p12`` the client certificate, ``test_pki.write_files(path).ca`` a CA
    bundle to pass as ``verify=``.
    """
    from pyampam.testing._pki import make_test_pki

    return make_test_pki()


@pytest.fixture
def phonefactor_server(test_pki: TestPki) -> Iterator[PhoneFactorTestServer]:
    """A started :class:`~pyampam.testing.PhoneFactorTestServer` on 127.0.0.1, stopped after.

    It expects the made-up keys of ``test_pki.credentials()`` and the client certificate
    ``test_pki.client_p12``; its endpoint is ``phonefactor_server.url``.
    """
    from pyampam.testing._phonefactor_server import PhoneFactorTestServer
    from pyampam.testing._pki import DEFAULT_GROUP_KEY, DEFAULT_LICENSE_KEY

    server = PhoneFactorTestServer(
        test_pki, license_key=DEFAULT_LICENSE_KEY, group_key=DEFAULT_GROUP_KEY
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()
