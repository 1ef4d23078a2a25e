import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff is in the dev extra")
def test_ruff_is_clean():
    folders = [name for name in ("cnncourse", "tests", "benchmarks") if (ROOT / name).is_dir()]
    proc = subprocess.run(["ruff", "check", "--output-format", "concise", *folders],
                          cwd=ROOT, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
