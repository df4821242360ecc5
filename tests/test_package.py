"""The package as a whole: its public names, its import cost and its layering."""

from __future__ import annotations

import ast
import json
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

import pyampam
import pyampam.activation
import pyampam.directory
import pyampam.events
import pyampam.providers
import pyampam.reports
import pyampam.rest
import pyampam.settings
import pyampam.store
import pyampam.testing
from pyampam.exceptions import (
    ActivationDeniedError,
    InvalidValueError,
    PhoneNumberError,
    PyampamError,
    SettingsError,
)

SRC = Path(pyampam.__file__).parent

# The house layers, left to right (docs/style): a module may import only from its own layer or
# from layers to its left. Every module must be listed here, so a new one gets a conscious place.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("exceptions", ("pyampam.exceptions", "pyampam._secrets")),
    ("domain", ("pyampam._phone", "pyampam._model", "pyampam._display")),
    ("settings", ("pyampam._files", "pyampam.settings")),
    ("providers", ("pyampam.providers", "pyampam.rest")),
    ("events/store", ("pyampam.events", "pyampam.store", "pyampam.directory")),
    ("activation", ("pyampam.activation",)),
    ("reports", ("pyampam.reports",)),
    ("testing", ("pyampam.testing",)),
    ("cli", ("pyampam._cli", "pyampam.__main__")),
]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _layer_of(module: str) -> int:
    if module == "pyampam":  # the facade re-exports from every layer, so it sits above them all
        return len(LAYERS)
    for index, (_, prefixes) in enumerate(LAYERS):
        if any(module == prefix or module.startswith(prefix + ".") for prefix in prefixes):
            return index
    raise AssertionError(f"{module} has no layer in tests/test_package.py::LAYERS")


def _imports(path: Path) -> set[str]:
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                found.add(f"{base}.{node.module}" if node.module else base)
            elif node.module:
                found.add(node.module)
    return {name for name in found if name == "pyampam" or name.startswith("pyampam.")}


def _fresh_modules(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys, json; print(json.dumps(sorted(sys.modules)))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return set(json.loads(out))


PUBLIC_PACKAGES = (
    pyampam,
    pyampam.activation,
    pyampam.directory,
    pyampam.events,
    pyampam.providers,
    pyampam.reports,
    pyampam.rest,
    pyampam.settings,
    pyampam.store,
    pyampam.testing,
)

HEAVY = {"requests", "cryptography", "phonenumbers", "defusedxml", "typing", "attrs", "attr"}


def test_import_pyampam_loads_no_heavy_dependency() -> None:
    """`import pyampam` loads no third-party module and not even `typing`."""
    loaded = _fresh_modules("import pyampam")
    assert not {name.partition(".")[0] for name in loaded} & HEAVY


def test_import_settings_package_stays_light() -> None:
    """`import pyampam.settings` does not load cryptography, requests or defusedxml either."""
    loaded = _fresh_modules("import pyampam.settings")
    assert not {name.partition(".")[0] for name in loaded} & {
        "requests",
        "cryptography",
        "defusedxml",
    }


def test_import_providers_package_does_not_load_requests() -> None:
    """`import pyampam.providers` loads neither requests nor cryptography until a client is made."""
    loaded = _fresh_modules("import pyampam.providers")
    assert not {name.partition(".")[0] for name in loaded} & {"requests", "cryptography"}


def test_public_names_resolve() -> None:
    """Every name in `__all__` of the public packages resolves to a real object."""
    for package in PUBLIC_PACKAGES:
        for name in package.__all__:
            assert getattr(package, name) is not None, f"{package.__name__}.{name}"


def test_all_is_sorted() -> None:
    """`__all__` lists are sorted as ruff's RUF022 sorts them, so additions are easy to review."""

    def isort_style(name: str) -> tuple[int, str]:
        # CONSTANTS first, then Classes, then functions and the rest, each alphabetical.
        if name.isupper() and len(name) > 1:  # ruff counts a lone capital (`F`) as a class
            return (0, name)
        return (1, name) if name[:1].isupper() else (2, name)

    for package in PUBLIC_PACKAGES:
        assert list(package.__all__) == sorted(package.__all__, key=isort_style)


def test_unknown_attribute_raises_attribute_error() -> None:
    """A name the package does not have raises AttributeError, as for any module."""
    with pytest.raises(AttributeError, match="no_such_thing"):
        _ = pyampam.no_such_thing  # type: ignore[attr-defined]


def test_version_is_the_installed_distribution_version() -> None:
    """`pyampam.__version__` is read from the installed package metadata."""
    from importlib.metadata import version

    assert pyampam.__version__ == version("pyampam")


def test_layers_import_only_leftwards() -> None:
    """No module imports from a layer to its right (exceptions ← domain ← settings ← … ← cli)."""
    wrong = []
    for path in sorted(SRC.rglob("*.py")):
        module = _module_name(path)
        own = _layer_of(module)
        for imported in _imports(path):
            if imported == "pyampam":
                wrong.append(f"{module} imports the top-level package")
                continue
            if _layer_of(imported) > own:
                wrong.append(f"{module} imports {imported}")
    assert wrong == []


def test_exception_tree() -> None:
    """Every pyampam exception derives from PyampamError; invalid values are also ValueErrors."""
    for cls in (InvalidValueError, PhoneNumberError, ActivationDeniedError, SettingsError):
        assert issubclass(cls, PyampamError)
    assert issubclass(PhoneNumberError, ValueError)


def test_errors_in_files_share_one_located_base() -> None:
    """Settings, event log, directory and report errors all say path:line the same way."""
    from pyampam.directory import DirectoryError
    from pyampam.events import EventLogError
    from pyampam.exceptions import LocatedError
    from pyampam.reports import ReportError
    from pyampam.rest import RestError

    for cls in (SettingsError, EventLogError, DirectoryError, ReportError):
        assert issubclass(cls, LocatedError)
        assert str(cls("broken", path="f.txt", line=7)) == "f.txt:7: broken"
        copy = pickle.loads(pickle.dumps(cls("x", path="p", line=2)))  # noqa: S301 - own bytes
        assert (type(copy), copy.path, copy.line) == (cls, "p", 2)
    assert issubclass(RestError, PyampamError)


def test_settings_error_locates_the_problem() -> None:
    """`str(SettingsError)` starts with `path:line:` when both are known."""
    error = SettingsError("LICENSE_KEY is missing", path="pf_auth.cs", line=12, key="LICENSE_KEY")
    assert str(error) == "pf_auth.cs:12: LICENSE_KEY is missing"
    assert str(SettingsError("bad", line=3)) == "line 3: bad"
    assert str(SettingsError("bad")) == "bad"


def test_settings_error_survives_pickling() -> None:
    """A SettingsError keeps its location across pickling (e.g. from a worker process)."""
    data = pickle.dumps(SettingsError("x", path="a", line=1, key="K"))
    error = pickle.loads(data)  # noqa: S301 - our own bytes, made one line above
    assert (error.message, error.path, error.line, error.key) == ("x", "a", 1, "K")


@pytest.mark.parametrize("package", [p.__name__ for p in PUBLIC_PACKAGES])
def test_public_packages_import_without_heavy_dependencies(package: str) -> None:
    """Importing any public package loads no network, crypto, notebook or Windows-auth library."""
    loaded = _fresh_modules(f"import {package}")
    heavy = {"requests", "cryptography", "pandas", "matplotlib", "spnego", "defusedxml"}
    assert not {name.partition(".")[0] for name in loaded} & heavy
