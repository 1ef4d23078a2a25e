import json
import os
import signal
import subprocess
import sys
import time

import nbformat
import pytest

from cnncourse import cli
from tests import faults


def run_cli(*args, env=None, timeout=600, cwd=None):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("CNNCOURSE_")}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "cnncourse", *args], capture_output=True, text=True,
                          env=full_env, timeout=timeout, cwd=cwd)


def test_info_prints_the_banner_and_data_status(tmp_path):
    (tmp_path / "cifar10").mkdir()
    (tmp_path / "cifar10" / "cifar10.npz").write_bytes(b"PK\x03\x04" + bytes(100))  # a damaged cache
    proc = run_cli("info", env={"CNNCOURSE_DATA_DIR": str(tmp_path), "CNNCOURSE_PROFILE": "quick"})
    assert proc.returncode == 0, proc.stderr
    first = proc.stdout.splitlines()[0]
    assert first.startswith("cnncourse ") and "profile=quick" in first and "precision=" in first
    assert str(tmp_path) in proc.stdout
    assert "cifar10" in proc.stdout.lower()
    assert "DAMAGED (BadZipFile" in proc.stdout and "rebuilt by: cnncourse data fetch cifar10" in proc.stdout


def make_notebook(path, body, setup=True):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    first = f"import cnncourse\ncfg = cnncourse.setup(seed=1, notebook={path.stem!r})"
    nb.cells = ([nbformat.v4.new_code_cell(first)] if setup else []) + [nbformat.v4.new_code_cell(body)]
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
    assert not (tmp_path / "results" / "interactive").exists(), "cnncourse run records into results/<profile>/"

    proc = run_cli("run", str(bad), "--profile", "quick", env=env)
    assert proc.returncode == 1 and "FAILED" in proc.stdout and "boom" in proc.stdout
    assert bad.read_text() == before, "a failed run must not overwrite the notebook"
    assert (tmp_path / "96_broken.failed.ipynb").is_file()


def test_run_sets_the_recording_variable_only_while_it_runs(monkeypatch):
    monkeypatch.setenv("CNNCOURSE_RECORD_RESULTS", "0")
    with cli.recording_results():
        assert os.environ["CNNCOURSE_RECORD_RESULTS"] == "1"
    assert os.environ["CNNCOURSE_RECORD_RESULTS"] == "0"
    monkeypatch.delenv("CNNCOURSE_RECORD_RESULTS")
    with cli.recording_results():
        pass
    assert "CNNCOURSE_RECORD_RESULTS" not in os.environ


def test_run_rejects_missing_notebooks(tmp_path, capsys):
    assert cli.main(["run", str(tmp_path / "nope.ipynb"), "--profile", "quick"]) == 2
    assert "no such notebook" in capsys.readouterr().err


def test_run_on_a_full_disk_leaves_the_notebook_as_it_was(tmp_path):
    folder = tmp_path / "course"
    folder.mkdir()
    nb = folder / "lesson.ipynb"
    make_notebook(nb, "print('x' * 40000)", setup=False)  # the executed notebook needs 40 KB; 12 KB are free
    before = nb.read_bytes()
    proc = faults.run_with_disk([sys.executable, "-m", "cnncourse", "run", str(nb), "--profile", "quick"],
                                folder=folder, fault="full", free=12 * 1024, size="256k",
                                env={**os.environ, "CNNCOURSE_RESULTS_DIR": str(tmp_path / "results")})
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        f"error: no space left on the device writing {nb}; it was left as it was. Free some space and try again.")
    assert nb.read_bytes() == before, "the notebook was damaged"
    assert [p.name for p in folder.iterdir()] == ["lesson.ipynb"], "a temporary file was left behind"


def test_run_in_a_read_only_folder_stops_before_executing(tmp_path):
    folder = tmp_path / "course"
    folder.mkdir()
    make_notebook(folder / "lesson.ipynb", "print('hello')", setup=False)
    proc = faults.run_with_disk([sys.executable, "-m", "cnncourse", "run", str(folder / "lesson.ipynb")],
                                folder=folder, fault="read-only", env=dict(os.environ))
    assert proc.returncode == 1 and "running" not in proc.stdout, proc.stdout + proc.stderr
    assert proc.stderr.strip() == (f"error: {folder / 'lesson.ipynb'} is on a read-only file system: copy the "
                                   "notebooks to a folder you can write to and run them there.")


@pytest.mark.parametrize("env, args, status, message", [
    ({"CNNCOURSE_PROFILE": "bogus"}, ["data", "status"], 1,
     "error: CNNCOURSE_PROFILE='bogus' is not a profile; choose one of quick, class, full"),
    ({"CNNCOURSE_PROFILE": "bogus"}, ["info"], 1, "error: CNNCOURSE_PROFILE='bogus' is not a profile"),
    ({"CNNCOURSE_PRECISION": "bogus"}, ["info"], 1, "error: CNNCOURSE_PRECISION='bogus' is not a precision; choose "
     "one of float32, mixed_float16, mixed_bfloat16 (or unset it to let setup() choose)"),
    ({"CNNCOURSE_PRECISION": "bogus"}, ["run", "{notebook}"], 1, "error: CNNCOURSE_PRECISION='bogus'"),
    ({}, ["data", "fetch", "cats_vs_dogs", "--split", "0", "1", "1"], 2,
     "cnncourse data fetch: error: argument --split: '0' is not a positive number of images"),
    ({}, ["run", "{text}"], 2, "error: {text} is not a Jupyter notebook (not JSON)"),
    ({"CNNCOURSE_DATA_DIR": "{text}"}, ["data", "status"], 1,
     "error: the data folder {text} is a file, not a folder: point CNNCOURSE_DATA_DIR at a folder you can write to"),
], ids=["profile", "profile-info", "precision", "precision-run", "split", "not-a-notebook", "data-dir-is-a-file"])
def test_user_errors_are_one_message_without_a_traceback(tmp_path, env, args, status, message):
    names = {"notebook": str(tmp_path / "lesson.ipynb"), "text": str(tmp_path / "notes.txt")}
    make_notebook(tmp_path / "lesson.ipynb", "print('never runs')", setup=False)
    (tmp_path / "notes.txt").write_text("remember the milk\n")
    env = {"CNNCOURSE_DATA_DIR": str(tmp_path / "data"), **{k: v.format(**names) for k, v in env.items()}}
    proc = run_cli(*[a.format(**names) for a in args], env=env, timeout=120)
    assert (proc.returncode, proc.stdout) == (status, ""), proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and message.format(**names) in proc.stderr
    if status == 1:
        assert proc.stderr.count("\n") == 1, "one line"


def test_debug_shows_the_traceback(tmp_path):
    env = {"CNNCOURSE_PROFILE": "bogus", "CNNCOURSE_DATA_DIR": str(tmp_path)}
    for args, extra in ((["--debug", "data", "status"], {}), (["data", "status", "--debug"], {}),
                        (["data", "status"], {"CNNCOURSE_DEBUG": "1"})):
        proc = run_cli(*args, env={**env, **extra}, timeout=120)
        assert proc.returncode == 1 and "Traceback (most recent call last)" in proc.stderr, args
        assert "SettingError: CNNCOURSE_PROFILE='bogus'" in proc.stderr


def test_a_relative_data_dir_is_the_same_folder_for_the_cli_and_its_kernels(tmp_path):
    (tmp_path / "nbs").mkdir()
    nb = tmp_path / "nbs" / "where.ipynb"
    make_notebook(nb, "from cnncourse import paths\nprint(paths.data_dir())", setup=False)
    env = {"CNNCOURSE_DATA_DIR": "rel", "CNNCOURSE_RESULTS_DIR": "results"}
    proc = run_cli("run", "nbs/where.ipynb", "--profile", "quick", env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert nbformat.read(nb, as_version=4).cells[0].outputs[0]["text"] == f"{tmp_path / 'rel'}\n"
    assert (tmp_path / "results" / "quick" / "SUMMARY.md").is_file()
    assert not (tmp_path / "nbs" / "rel").exists() and not (tmp_path / "nbs" / "results").exists()
    status = run_cli("data", "status", env=env, cwd=tmp_path)
    assert status.stdout.startswith(f"Data folder  {tmp_path / 'rel'}\n")


def test_parser_knows_the_commands():
    parser = cli.build_parser()
    assert parser.parse_args(["run", "--profile", "full"]).profile == "full"
    with pytest.raises(SystemExit):
        parser.parse_args(["run", "--profile", "turbo"])


def test_sigterm_stops_the_whole_run(tmp_path):
    """A stopped run must not carry on with the next notebook, nor record the stopped one as failed."""
    slow, after = tmp_path / "91_slow.ipynb", tmp_path / "92_after.ipynb"
    make_notebook(slow, "import time\nprint('started', flush=True)\ntime.sleep(120)", setup=False)
    make_notebook(after, "print('should not run')", setup=False)
    slow_before, after_before = slow.read_text(), after.read_text()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CNNCOURSE_")}
    env.update(CNNCOURSE_RESULTS_DIR=str(tmp_path / "results"), MPLBACKEND="Agg")
    proc = subprocess.Popen([sys.executable, "-m", "cnncourse", "run", str(slow), str(after), "--profile", "quick"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        time.sleep(8)  # the kernel has started and is inside the sleeping cell
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, out + err
    assert "cnncourse: stopped (SIGTERM)" in err
    assert "92_after" not in out and "FAILED" not in out
    assert slow.read_text() == slow_before and after.read_text() == after_before
