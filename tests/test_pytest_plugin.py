"""The pyampam pytest plugin: a user's test file can use its fixtures, and it loads lightly."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import entry_points

import pytest

pytest_plugins = ["pytester"]

PLUGIN = "pyampam.testing._pytest_plugin"


@pytest.fixture
def user_pytester(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A pytester whose runs load the plugin by module name and nothing from entry points.

    Once the plugin is installed as the ``pyampam`` entry point, loading it by name as well
    would register it twice; switching autoload off keeps the runs the same either way.
    """
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    return pytester


def run(pytester: pytest.Pytester, *args: str, in_subprocess: bool = False) -> pytest.RunResult:
    """Run pytest in the pytester folder with the plugin loaded.

    Runs that load cryptography go to a subprocess: an in-process run unloads the modules it
    imported, and cryptography's compiled core cannot be imported a second time.
    """
    runner = pytester.runpytest_subprocess if in_subprocess else pytester.runpytest
    return runner("-p", PLUGIN, "-p", "no:cacheprovider", *args)


def test_fake_mfa_provider_in_a_user_test(user_pytester: pytest.Pytester) -> None:
    """A user's test can script the fake_mfa_provider fixture and authenticate against it."""
    user_pytester.makepyfile(
        """
        from pyampam import PhoneNumber
        from pyampam.exceptions import ConnectionFailedError
        from pyampam.providers import CallResult, MfaChallenge
        from pyampam.testing import FakeProvider

        def test_scripted(fake_mfa_provider):
            assert isinstance(fake_mfa_provider, FakeProvider)
            phone = PhoneNumber.parse("+1 4255550100")
            fake_mfa_provider.script("bob", CallResult.FAILED_USER_HUNGUP_ON_US)
            assert fake_mfa_provider.authenticate(MfaChallenge("alice", phone)).authenticated
            assert not fake_mfa_provider.authenticate(MfaChallenge("bob", phone)).authenticated
            assert [c.username for c in fake_mfa_provider.challenges] == ["alice", "bob"]
        """
    )
    result = run(user_pytester)
    result.assert_outcomes(passed=1)


def test_fake_mfa_provider_is_fresh_for_each_test(user_pytester: pytest.Pytester) -> None:
    """Calls made in one test are not seen by the next: each test gets a new fake."""
    user_pytester.makepyfile(
        """
        from pyampam import PhoneNumber
        from pyampam.providers import MfaChallenge

        def test_first(fake_mfa_provider):
            fake_mfa_provider.initiate(MfaChallenge("alice", PhoneNumber.parse("+1 4255550100")))
            fake_mfa_provider.assert_called_once_with_user("alice")

        def test_second(fake_mfa_provider):
            fake_mfa_provider.assert_not_called()
        """
    )
    run(user_pytester).assert_outcomes(passed=2)


def test_a_failing_assertion_helper_fails_the_user_test(user_pytester: pytest.Pytester) -> None:
    """The fake's assertion helpers fail a user's test with a message listing the calls."""
    user_pytester.makepyfile(
        """
        from pyampam import PhoneNumber
        from pyampam.providers import MfaChallenge

        def test_wrong_user(fake_mfa_provider):
            fake_mfa_provider.initiate(MfaChallenge("bob", PhoneNumber.parse("+1 4255550100")))
            fake_mfa_provider.assert_called_once_with_user("alice")
        """
    )
    result = run(user_pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*expected exactly one MFA call, for user 'alice'*"])


def test_test_pki_is_made_once_per_session(user_pytester: pytest.Pytester) -> None:
    """test_pki is one TestPki shared by every test of the session."""
    user_pytester.makepyfile(
        test_one="""
        from pyampam.testing import TestPki

        SEEN = []

        def test_a(test_pki):
            assert isinstance(test_pki, TestPki)
            SEEN.append(test_pki)

        def test_b(test_pki):
            assert test_pki is SEEN[0]
        """,
        test_two="""
        import test_one

        def test_c(test_pki):
            assert test_pki is test_one.SEEN[0]
        """,
    )
    run(user_pytester, in_subprocess=True).assert_outcomes(passed=3)


def test_phonefactor_server_with_the_real_client(user_pytester: pytest.Pytester) -> None:
    """A user's test authenticates with PhoneFactorClient against the running test server."""
    user_pytester.makepyfile(
        """
        from pyampam import PhoneNumber
        from pyampam.providers import MfaChallenge, PhoneFactorClient
        from pyampam.testing import PhoneFactorTestServer, ServerOutcome

        SERVERS = []

        def test_authenticate(phonefactor_server, test_pki, tmp_path):
            assert isinstance(phonefactor_server, PhoneFactorTestServer)
            SERVERS.append(phonefactor_server)
            phonefactor_server.script(ServerOutcome.deny(), username="bob")
            ca = test_pki.write_files(tmp_path).ca
            with PhoneFactorClient(
                test_pki.credentials(),
                certificate=test_pki.client_p12,
                endpoints=[phonefactor_server.url],
                verify=str(ca),
            ) as client:
                phone = PhoneNumber.parse("+1 4255550100")
                assert client.authenticate(MfaChallenge("alice", phone), timeout=10).authenticated
                denied = client.authenticate(MfaChallenge("bob", phone), timeout=10)
                assert not denied.authenticated
            assert [r.username for r in phonefactor_server.requests] == ["alice", "bob"]
            assert phonefactor_server.errors == ()

        def test_server_was_stopped():
            assert "stopped" in repr(SERVERS[0])
        """
    )
    run(user_pytester, in_subprocess=True).assert_outcomes(passed=2)


def test_fixtures_are_listed_with_their_docs(user_pytester: pytest.Pytester) -> None:
    """pytest --fixtures shows the three fixtures with their first doc lines."""
    user_pytester.makepyfile("def test_nothing():\n    pass\n")
    result = run(user_pytester, "--fixtures")
    result.stdout.fnmatch_lines_random(
        [
            "fake_mfa_provider*",
            "*A fresh *FakeProvider*",
            "test_pki*session*",
            "phonefactor_server*",
            "*A started *PhoneFactorTestServer*",
        ]
    )


def test_loading_the_plugin_imports_nothing_heavy() -> None:
    """Importing the plugin loads no crypto, HTTP, XML or pyampam implementation modules."""
    code = f"import sys, json\nimport {PLUGIN}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    loaded = set(json.loads(out.stdout))
    heavy = {
        "cryptography",
        "requests",
        "urllib3",
        "defusedxml",
        "phonenumbers",
        "attrs",
        "ssl",
        "pyampam.testing._fake",
        "pyampam.testing._pki",
        "pyampam.testing._phonefactor_server",
        "pyampam.providers",
    }
    assert loaded & heavy == set()


ENTRY_POINT_LINE = f"pyampam = {PLUGIN}"


def test_entry_point_line_loads_the_plugin(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pytest11 line meant for pyproject.toml makes the fixtures available without -p."""
    site = pytester.mkdir("site")
    dist_info = site / "pyampam_plugin_probe-0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: pyampam-plugin-probe\nVersion: 0\n", encoding="utf-8"
    )
    (dist_info / "entry_points.txt").write_text(
        f"[pytest11]\n{ENTRY_POINT_LINE}\n", encoding="utf-8"
    )
    monkeypatch.setenv("PYTHONPATH", str(site))
    monkeypatch.delenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    pytester.makepyfile(
        "def test_uses(fake_mfa_provider):\n    fake_mfa_provider.assert_not_called()\n"
    )
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_registered_entry_point_loads_the_plugin(pytester: pytest.Pytester) -> None:
    """Once installed as the `pyampam` pytest11 entry point, the fixtures need no -p option."""
    names = {ep.name: ep.value for ep in entry_points(group="pytest11")}
    if "pyampam" not in names:
        pytest.skip("the pyampam pytest11 entry point is not registered in this install yet")
    assert names["pyampam"] == PLUGIN
    pytester.makepyfile(
        "def test_uses(fake_mfa_provider):\n    fake_mfa_provider.assert_not_called()\n"
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
