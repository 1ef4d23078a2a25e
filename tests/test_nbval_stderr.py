"""nbval, as this course runs it, ignores stderr in checked cells (log lines) but still compares stdout."""
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]


def notebook(folder: Path, stored_stdout: str) -> Path:
    cell = nbformat.v4.new_code_cell(
        "import sys\nprint('hello')\nprint('a log line', file=sys.stderr)", execution_count=1,
        metadata={"tags": ["nbval-check-output"]})
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=stored_stdout),
                    nbformat.v4.new_output("stream", name="stderr", text="another machine's log line\n")]
    nb = nbformat.v4.new_notebook(cells=[cell])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = folder / "check.ipynb"
    nbformat.write(nb, path)
    shutil.copy(ROOT / "notebooks" / "conftest.py", folder / "conftest.py")
    return path


def nbval(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax",
                           "--nbval-current-env", str(path)], cwd=path.parent, capture_output=True, text=True,
                          check=False, timeout=300)


@pytest.mark.parametrize("stored, passes", [("hello\n", True), ("goodbye\n", False)])
def test_stderr_is_ignored_stdout_is_compared(tmp_path, stored, passes):
    proc = nbval(notebook(tmp_path, stored))
    assert (proc.returncode == 0) is passes, proc.stdout[-2000:]
