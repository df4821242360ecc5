"""The notebooks under docs/notebooks: saved clean, and running top to bottom on the examples."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
from jupyter_client.kernelspec import KernelSpecManager  # noqa: E402 - after the skips above

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "docs" / "notebooks"
TROUBLESHOOTING = NOTEBOOKS / "troubleshooting.ipynb"


def _install_kernelspec(jupyter_path: Path) -> None:
    """A ``python3`` kernelspec that starts *this* interpreter, whatever else is installed.

    ``JUPYTER_PATH`` is searched before the user's and the system's data directories, so
    pointing it here makes the notebook run in the venv under test, even from a fresh
    ``pip install '.[test]'`` where no kernelspec was ever registered.
    """
    spec = jupyter_path / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Python 3 (pyampam tests)",
                "language": "python",
            }
        ),
        encoding="utf-8",
    )


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The troubleshooting notebook, run once in a fresh kernel in a copy of examples/."""
    base = tmp_path_factory.mktemp("notebook")
    work = base / "work"
    shutil.copytree(ROOT / "examples", work / "examples")
    _install_kernelspec(base / "jupyter")
    notebook = nbformat.read(TROUBLESHOOTING, as_version=4)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JUPYTER_PATH", str(base / "jupyter"))
        # Keep the kernel's IPython profile and matplotlib cache out of the user's home.
        patch.setenv("IPYTHONDIR", str(base / "ipython"))
        patch.setenv("MPLCONFIGDIR", str(base / "matplotlib"))
        patch.delenv("MPLBACKEND", raising=False)
        client = nbclient.NotebookClient(
            notebook,
            kernel_name="python3",
            timeout=120,
            resources={"metadata": {"path": str(work)}},
        )
        # The kernel starts from the spec above, so with this very interpreter.
        spec = KernelSpecManager().get_kernel_spec("python3")
        assert spec.argv[0] == sys.executable
        client.execute()
    return notebook


def _outputs(notebook: Any) -> list[Any]:
    return [
        output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
    ]


def _html(notebook: Any) -> str:
    return "\n".join(
        output["data"]["text/html"]
        for output in _outputs(notebook)
        if "text/html" in output.get("data", {})
    )


def _text(notebook: Any) -> str:
    parts = []
    for output in _outputs(notebook):
        if output.output_type == "stream":
            parts.append(output.text)
        elif "text/plain" in output.get("data", {}):
            parts.append(output["data"]["text/plain"])
    return "\n".join(parts)


def test_notebooks_are_saved_without_outputs() -> None:
    """Every notebook is saved clean: no outputs, no execution counts, valid nbformat."""
    notebooks = sorted(NOTEBOOKS.glob("*.ipynb"))
    assert TROUBLESHOOTING in notebooks
    for path in notebooks:
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
        for cell in notebook.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [], f"{path.name}: a cell has outputs"
                assert cell.execution_count is None, f"{path.name}: a cell was run"


def test_troubleshooting_runs_without_errors_or_warnings(executed: Any) -> None:
    """Every cell runs without an error, and nothing is written to stderr (no warnings)."""
    for output in _outputs(executed):
        assert output.output_type != "error", output.get("evalue")
        assert not (output.output_type == "stream" and output.name == "stderr"), output.text


def test_troubleshooting_shows_the_summary_and_the_failing_users(executed: Any) -> None:
    """The summary tables name the users who failed MFA, resolved from their GUIDs, and why."""
    html = _html(executed)
    for caption in ("Usage summary", "Failures by call result", "Failures by user"):
        assert f"<caption>{caption}</caption>" in html
    assert "<td>CORP\\raj</td><td>Raj Patel</td><td>3</td>" in html
    assert "<td>CONFIG_ISSUE</td><td>2</td>" in html
    assert "<caption>5 users</caption>" in html


def test_troubleshooting_draws_pictures(executed: Any) -> None:
    """The failures, per-day and activity plots come out as PNG images with content."""
    images = [
        output["data"]["image/png"]
        for output in _outputs(executed)
        if "image/png" in output.get("data", {})
    ]
    assert len(images) == 3
    # base64 text: an empty figure is a few kB, a chart with bars, ticks and labels far more.
    assert all(len(image) > 20_000 for image in images)


def test_troubleshooting_cross_checks_event_101(executed: Any) -> None:
    """The 101 events are listed with the users' names, and the unpaired ones are found."""
    html = _html(executed)
    assert "Ken Myer" in html
    assert "event 101 without a failure" in html
    assert "failure without an event 101" in html
    # The failure of the application that is no PAM user: its GUID stays as the user.
    assert "0b8f3c5e-2d71-4e9a-b6c4-5f1a9d3e7b20" in html


def test_troubleshooting_answers_who_when_and_why(executed: Any) -> None:
    """The notebook ends with the call results explained and one line per failing user."""
    html = _html(executed)
    assert "Phone unreachable" in html
    assert "Set-PAMUser -SourcePhoneNumber" in html
    text = _text(executed)
    assert (
        "CORP\\raj: 3 failed (CONFIG_ISSUE x2, FAILED_PHONE_BUSY x1), "
        "2026-01-06 09:12 to 2026-01-07 13:22 UTC"
    ) in text
