import json
import os
import subprocess
import sys

import nbformat
import pytest

from cnncourse import cli


def run_cli(*args, env=None, timeout=600):
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "cnncourse", *args], capture_output=True, text=True,
                          env=full_env, timeout=timeout)


def test_info_prints_the_banner_and_data_status(tmp_path):
    proc = run_cli("info", env={"CNNCOURSE_DATA_DIR": str(tmp_path), "CNNCOURSE_PROFILE": "quick"})
    assert proc.returncode == 0, proc.stderr
    first = proc.stdout.splitlines()[0]
    assert first.startswith("cnncourse ") and "profile=quick" in first and "precision=" in first
    assert str(tmp_path) in proc.stdout
    assert "cifar10" in proc.stdout.lower()


def make_notebook(path, body):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(f"import cnncourse\ncfg = cnncourse.setup(seed=1, notebook={path.stem!r})"),
                nbformat.v4.new_code_cell(body)]
    nbformat.write(nb, path)


def test_run_executes_in_place_and_writes_the_summary(tmp_path):
    good, bad = tmp_path / "97_tiny.ipynb", tmp_path / "96_broken.ipynb"
    make_notebook(good, "from cnncourse import results\nresults.record('answer', 6 * 7, lecture=42)\nprint('ok')")
    make_notebook(bad, "raise ValueError('boom')")
    before = bad.read_text()
    env = {"CNNCOURSE_RESULTS_DIR": str(tmp_path / "results"), "MPLBACKEND": "Agg"}

    proc = run_cli("run", str(good), "--profile", "quick", env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    executed = nbformat.read(good, as_version=4)
    banner = "".join(o.get("text", "") for o in executed.cells[0].outputs)
    assert "profile=quick" in banner
    assert executed.cells[1].outputs[0]["text"] == "ok\n"
    summary = (tmp_path / "results" / "quick" / "SUMMARY.md").read_text()
    assert "| answer | 42 | 42 |" in summary and "97_tiny" in summary
    assert json.loads((tmp_path / "results" / "quick" / "97_tiny.json").read_text())["results"]["answer"]["value"] == 42

    proc = run_cli("run", str(bad), "--profile", "quick", env=env)
    assert proc.returncode == 1 and "FAILED" in proc.stdout and "boom" in proc.stdout
    assert bad.read_text() == before, "a failed run must not overwrite the notebook"
    assert (tmp_path / "96_broken.failed.ipynb").is_file()


def test_run_rejects_missing_notebooks(tmp_path, capsys):
    assert cli.main(["run", str(tmp_path / "nope.ipynb"), "--profile", "quick"]) == 2
    assert "no such notebook" in capsys.readouterr().err


def test_parser_knows_the_commands():
    parser = cli.build_parser()
    assert parser.parse_args(["run", "--profile", "full"]).profile == "full"
    with pytest.raises(SystemExit):
        parser.parse_args(["run", "--profile", "turbo"])
