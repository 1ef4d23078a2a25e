import json
import os
import re
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


def test_run_with_a_second_seed_records_beside_and_leaves_the_notebook(tmp_path):
    """``cnncourse run --seed 7``: the notebook's setup(seed=1) runs with seed 7, its numbers go to seed7/,
    the executed copy to NN.seed7.ipynb, and the notebook itself is not touched."""
    nb = tmp_path / "95_seeded.ipynb"
    make_notebook(nb, "from cnncourse import results\nimport random\nresults.record('seed_used', cfg.seed)\n"
                      "results.record('draw', random.random())\nprint(results.load_seed(cfg.notebook, 7))")
    before = nb.read_bytes()
    env = {"CNNCOURSE_RESULTS_DIR": str(tmp_path / "results"), "MPLBACKEND": "Agg"}
    proc = run_cli("run", str(nb), "--profile", "quick", "--seed", "7", env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "executed copy in 95_seeded.seed7.ipynb" in proc.stdout
    assert "without encryption" not in proc.stderr   # ipykernel's loopback warning is not passed on
    assert nb.read_bytes() == before
    doc = json.loads((tmp_path / "results" / "quick" / "seed7" / "95_seeded.json").read_text())
    assert doc["results"]["seed_used"]["value"] == 7 and doc["results"]["seed_used"]["seed"] == 7
    assert "seed=7 (CNNCOURSE_SEED)" in doc["banner"]
    assert (tmp_path / "results" / "quick" / "seed7" / "SUMMARY.md").read_text().startswith(
        "# Results, profile `quick`, seed 7")
    assert not (tmp_path / "results" / "quick" / "95_seeded.json").exists()
    executed = nbformat.read(tmp_path / "95_seeded.seed7.ipynb", as_version=4)
    assert "'seed_used': 7" in executed.cells[1].outputs[0]["text"]   # load_seed reads the committed folder
    # the same seed twice gives the same draws; the notebook's own seed gives other ones
    assert run_cli("run", str(nb), "--profile", "quick", "--seed", "7", env=env).returncode == 0
    again = json.loads((tmp_path / "results" / "quick" / "seed7" / "95_seeded.json").read_text())
    assert again["results"]["draw"]["value"] == doc["results"]["draw"]["value"]
    assert run_cli("run", str(nb), "--profile", "quick", env=env).returncode == 0
    own = json.loads((tmp_path / "results" / "quick" / "95_seeded.json").read_text())
    assert own["results"]["seed_used"]["value"] == 1
    assert own["results"]["draw"]["value"] != doc["results"]["draw"]["value"]


@pytest.mark.parametrize("seed", ["-1", "seven"])
def test_run_rejects_a_bad_seed(seed, capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["run", "--seed", seed])
    assert stop.value.code == 2 and "is not a seed" in capsys.readouterr().err


# ---------------------------------------------------------------- issue 25: edits, results, timeouts, full disks

def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CNNCOURSE_")}
    env.update(MPLBACKEND="Agg", **extra)
    return env


def test_a_notebook_edited_while_it_runs_keeps_the_edit(tmp_path):
    """JupyterLab saves an edit while `cnncourse run` executes the notebook: the edit stays, the executed
    copy of what was read at the start goes beside it, and one line says so."""
    nb = tmp_path / "94_edited.ipynb"
    make_notebook(nb, "import time\ntime.sleep(6)\nprint('ran')", setup=False)
    proc = subprocess.Popen([sys.executable, "-m", "cnncourse", "run", str(nb), "--profile", "quick"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=clean_env(CNNCOURSE_RESULTS_DIR=str(tmp_path / "results")))
    try:
        assert proc.stdout.readline().startswith("running "), "the run has read the notebook"
        time.sleep(2)  # the kernel is starting or inside the sleeping cell
        edited = nbformat.read(nb, as_version=4)
        edited.cells.append(nbformat.v4.new_markdown_cell("my notes, saved while it ran"))
        nbformat.write(edited, nb)
        mine = nb.read_bytes()
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out + err
    assert nb.read_bytes() == mine, "the edit saved during the run was overwritten"
    assert ("  done in " in out and "s: ok, but 94_edited.ipynb changed on disk while it ran: your edits are kept, "
            "the executed copy is in 94_edited.executed.ipynb\n" in out), out
    executed = nbformat.read(tmp_path / "94_edited.executed.ipynb", as_version=4)
    assert len(executed.cells) == 1 and executed.cells[0].outputs[0]["text"] == "ran\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["94_edited.executed.ipynb", "94_edited.ipynb", "results"]


def test_copies_beside_a_notebook_are_never_taken_for_it(tmp_path):
    names = ["97_tiny.ipynb", "97_tiny.failed.ipynb", "97_tiny.executed.ipynb", "97_tiny.seed7.ipynb"]
    for name in names:
        (tmp_path / name).write_text("{}")
    assert [cli.is_notebook_copy(tmp_path / n) for n in names] == [False, True, True, True]
    assert cli.find_notebook("97", tmp_path) == (tmp_path / "97_tiny.ipynb").resolve()
    root = cli.paths.repo_root()
    if root is not None and (root / ".git").exists():
        ignored = subprocess.run(["git", "check-ignore", "-q", "notebooks/02_cifar10_overfitting.executed.ipynb"],
                                 cwd=root)
        assert ignored.returncode == 0, "executed copies must be git-ignored"


def test_damaged_results_do_not_stop_the_summary(tmp_path):
    """Results files of the wrong shape (parseable JSON) are skipped in one line each; the summary is written."""
    folder = tmp_path / "results" / "quick"
    folder.mkdir(parents=True)
    (folder / "90_number.json").write_text(json.dumps({"notebook": "90_number", "results": {"test_accuracy": 0.8}}))
    (folder / "91_nolecture.json").write_text(json.dumps({"results": {"acc": {"value": 0.8, "unit": None}}}))
    (folder / "92_time.json").write_text(json.dumps({"wall_time_s": "12", "results": {}}))
    nb = tmp_path / "93_fine.ipynb"
    make_notebook(nb, "print('fine')", setup=False)
    proc = run_cli("run", str(nb), "--profile", "quick", env={"CNNCOURSE_RESULTS_DIR": str(tmp_path / "results")})
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stdout + proc.stderr
    skipped = [line for line in proc.stderr.splitlines() if line.startswith("Skipping")]
    assert skipped == [
        f"Skipping the damaged entry 'test_accuracy' of {folder / '90_number.json'} (0.8 is not an object with "
        "'value' and 'lecture'); run its notebook again to rewrite it.",
        f"Skipping the damaged entry 'acc' of {folder / '91_nolecture.json'} (no 'lecture'); run its notebook "
        "again to rewrite it.",
        f"Skipping the damaged results file {folder / '92_time.json'} (wall_time_s is '12', not a number); run its "
        "notebook again to rewrite it."]
    summary = (folder / "SUMMARY.md").read_text()
    assert "## 90_number" in summary and "92_time" not in summary


@pytest.mark.parametrize("fault", ["read-only", "a file in the way"])
def test_run_checks_the_results_folder_before_executing(tmp_path, fault):
    """An unwritable results folder is found before any notebook runs, not when one records after training."""
    nb = tmp_path / "lesson.ipynb"
    make_notebook(nb, "print('never runs')", setup=False)
    results = tmp_path / "results"
    cmd = [sys.executable, "-m", "cnncourse", "run", str(nb), "--profile", "quick"]
    env = clean_env(CNNCOURSE_RESULTS_DIR=str(results))
    if fault == "read-only":
        proc = faults.run_with_disk(cmd, folder=results, fault="read-only", env=env)
        message = (f"error: {results / 'quick'} is on a read-only file system: set CNNCOURSE_RESULTS_DIR to a "
                   "folder you can write to.")
    else:
        results.write_text("")
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
        message = (f"error: the results folder {results / 'quick'} cannot be created: a file is in its way; set "
                   "CNNCOURSE_RESULTS_DIR to a folder you can write to")
    assert proc.returncode == 1 and "running" not in proc.stdout, proc.stdout + proc.stderr
    assert proc.stderr.strip() == message
    assert nbformat.read(nb, as_version=4).cells[0].outputs == []


def test_lab_on_a_missing_absolute_path_says_there_is_no_such_notebook(tmp_path, capsys):
    missing = tmp_path / "missing.ipynb"
    assert cli.main(["lab", str(missing)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: no notebook {str(missing)!r}") and err.count("\n") == 1, err
    assert cli.main(["run", str(missing)]) == 2
    assert capsys.readouterr().err == f"error: no such notebook: {missing}\n"


@pytest.mark.parametrize("models", [[""], [","], [" , "], ["02_lecture_cnn", ""]])
def test_bench_with_no_model_named_is_a_usage_error(models, capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["bench", "--quick", "--models", *models])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "argument --models: " in err and "names no model; give one or more of " in err
    from cnncourse import bench
    from cnncourse.errors import CourseError
    if not any(n.strip(" ,") for n in models):
        with pytest.raises(CourseError, match="no model named"):
            bench.resolve_models(models)


def test_a_cell_over_the_timeout_is_one_meaningful_line_and_the_run_goes_on(tmp_path):
    slow, after = tmp_path / "93_slow.ipynb", tmp_path / "94_after.ipynb"
    make_notebook(slow, "import time\ntime.sleep(120)", setup=False)
    make_notebook(after, "print('next')", setup=False)
    proc = run_cli("run", str(slow), str(after), "--profile", "quick", "--timeout", "3",
                   env={"CNNCOURSE_RESULTS_DIR": str(tmp_path / "results"), "MPLBACKEND": "Agg"}, timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    failed = [line for line in proc.stdout.splitlines() if "FAILED" in line]
    assert len(failed) == 1 and re.fullmatch(
        r"  FAILED in \d+ s: a cell ran longer than the --timeout of 3 s \(executed copy kept in "
        r"93_slow\.failed\.ipynb; 93_slow\.ipynb left untouched\)", failed[0]), proc.stdout
    assert "ZMQError" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert nbformat.read(after, as_version=4).cells[0].outputs[0]["text"] == "next\n"


def test_a_failed_copy_that_does_not_fit_still_shows_the_cells_error_and_the_run_goes_on(tmp_path):
    folder, elsewhere = tmp_path / "course", tmp_path / "elsewhere"
    folder.mkdir()
    elsewhere.mkdir()
    broken, after = folder / "96_broken.ipynb", elsewhere / "97_after.ipynb"
    make_notebook(broken, "print('x' * 40000)\nraise ValueError('boom')", setup=False)  # its copy needs 40 KB
    make_notebook(after, "print('next')", setup=False)
    before = broken.read_bytes()
    proc = faults.run_with_disk([sys.executable, "-m", "cnncourse", "run", str(broken), str(after), "--profile",
                                 "quick"], folder=folder, fault="full", free=12 * 1024, size="256k",
                                env=clean_env(CNNCOURSE_RESULTS_DIR=str(tmp_path / "results")))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert re.search(r"  FAILED in \d+ s: ValueError: boom \(no executed copy: No space left on device writing "
                     r"96_broken\.failed\.ipynb; 96_broken\.ipynb left untouched\)\n", proc.stdout), proc.stdout
    assert f"running {after} (profile=quick) ..." in proc.stdout and "Traceback" not in proc.stderr
    assert nbformat.read(after, as_version=4).cells[0].outputs[0]["text"] == "next\n"
    assert broken.read_bytes() == before and [p.name for p in folder.iterdir()] == ["96_broken.ipynb"]
