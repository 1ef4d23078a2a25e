"""`cnncourse lab`: the JupyterLab command line it builds, and how it runs it (without starting JupyterLab).

tests/test_e2e_browser.py starts the real thing.
"""
import sys
import textwrap

import pytest

from cnncourse import cli, paths
from cnncourse.errors import CourseError

NOTEBOOKS = paths.repo_root() / "notebooks" if paths.repo_root() else None
needs_checkout = pytest.mark.skipif(NOTEBOOKS is None, reason="needs the checkout's notebooks/ folder")


def test_everything_after_the_notebook_goes_to_jupyterlab():
    assert cli.split_lab_args(["lab"]) == (["lab"], [])
    assert cli.split_lab_args(["lab", "01"]) == (["lab", "01"], [])
    assert cli.split_lab_args(["lab", "01", "--port", "9", "--no-browser"]) == \
        (["lab", "01"], ["--port", "9", "--no-browser"])
    assert cli.split_lab_args(["lab", "--port", "9"]) == (["lab"], ["--port", "9"])
    assert cli.split_lab_args(["lab", "--help"]) == (["lab", "--help"], [])
    assert cli.split_lab_args(["run", "--profile", "quick"]) == (["run", "--profile", "quick"], [])
    args = cli.build_parser().parse_args(["lab", "01"])
    assert args.func is cli.cmd_lab and args.notebook == "01"


@needs_checkout
def test_lab_runs_jupyterlab_with_this_python_on_the_notebooks_folder():
    command, notes, open_path = cli.lab_command(None, [], root=False)
    assert command[:3] == [sys.executable, "-m", "jupyterlab"], "this environment's Python, hence its python3 kernel"
    assert command[3] == f"--ServerApp.root_dir={NOTEBOOKS.resolve()}"
    assert "--allow-root" not in command and open_path is None
    assert sys.executable in notes[0]


@needs_checkout
def test_as_root_it_adds_allow_root_and_says_so():
    command, notes, _ = cli.lab_command(None, ["--port=8890"], root=True)
    assert command[4:] == ["--allow-root", "--port=8890"]
    assert any("running as root: adding --allow-root" in n for n in notes)
    command, notes, _ = cli.lab_command(None, ["--allow-root"], root=True)
    assert command.count("--allow-root") == 1 and not any("running as root" in n for n in notes)


@needs_checkout
def test_the_notebook_by_name_start_or_path():
    for name in ("01", "01_conv", "01_conv_basics", "01_conv_basics.ipynb", str(NOTEBOOKS / "01_conv_basics.ipynb")):
        command, _, open_path = cli.lab_command(name, ["--no-browser"], root=False)
        assert command[-2:] == ["--no-browser", str((NOTEBOOKS / "01_conv_basics.ipynb").resolve())], name
        assert open_path == "lab/tree/01_conv_basics.ipynb"
    with pytest.raises(CourseError, match="no notebook '99'.*01_conv_basics.ipynb"):
        cli.lab_command("99", [], root=False)
    with pytest.raises(CourseError, match="could be any of"):
        cli.lab_command("0", [], root=False)


def test_a_notebook_elsewhere_opens_its_own_folder(tmp_path):
    nb = tmp_path / "my notebook.ipynb"
    nb.write_text("{}")
    command, _, open_path = cli.lab_command(str(nb), [], root=False)
    assert command[3] == f"--ServerApp.root_dir={tmp_path.resolve()}" and command[-1] == str(nb.resolve())
    assert open_path == "lab/tree/my%20notebook.ipynb"
    command, _, open_path = cli.lab_command(str(tmp_path), [], root=False)
    assert command[3] == f"--ServerApp.root_dir={tmp_path.resolve()}" and open_path is None


def test_the_address_to_open_comes_from_jupyterlabs_log():
    line = "[I 2025-11-23 16:40:00.123 ServerApp]     http://127.0.0.1:8888/lab?token=abc123"
    assert cli._open_url(line, None) == "http://127.0.0.1:8888/lab?token=abc123"
    assert cli._open_url(line, "lab/tree/01_conv_basics.ipynb") == \
        "http://127.0.0.1:8888/lab/tree/01_conv_basics.ipynb?token=abc123"
    assert cli._open_url("[I ServerApp] http://localhost:9999/base/lab?token=x", "lab/tree/a.ipynb") == \
        "http://localhost:9999/base/lab/tree/a.ipynb?token=x"
    assert cli._open_url("[I ServerApp] Serving notebooks from local directory: /x", None) is None


def test_run_lab_passes_the_log_through_and_prints_the_address(tmp_path, capfd):
    fake = tmp_path / "fake_lab.py"  # logs like JupyterLab, then stays up 1.5 s
    fake.write_text(textwrap.dedent("""
        import sys, time
        print("[I ServerApp] Jupyter Server is running at:", file=sys.stderr)
        print("[I ServerApp]     http://127.0.0.1:8765/lab?token=t0k", file=sys.stderr, flush=True)
        time.sleep(1.5)
        sys.exit(3)
    """))
    status = cli.run_lab([sys.executable, str(fake)], "lab/tree/01_conv_basics.ipynb")
    out, err = capfd.readouterr()
    assert status == 3, "JupyterLab's exit status"
    assert "http://127.0.0.1:8765/lab?token=t0k" in err
    assert "cnncourse lab: open http://127.0.0.1:8765/lab/tree/01_conv_basics.ipynb?token=t0k" in out


@needs_checkout
def test_cnncourse_lab_prints_what_it_runs(monkeypatch, capsys):
    ran = {}
    monkeypatch.setattr(cli, "_is_root", lambda: True)
    monkeypatch.setattr(cli, "run_lab", lambda command, open_path: ran.update(command=command, path=open_path) or 0)
    assert cli.main(["lab", "01", "--port", "8890"]) == 0
    out = capsys.readouterr().out
    assert "cnncourse lab: running as root: adding --allow-root" in out
    notebook = str((NOTEBOOKS / "01_conv_basics.ipynb").resolve())
    assert ran["command"][-4:] == ["--allow-root", "--port", "8890", notebook]
    assert ran["path"] == "lab/tree/01_conv_basics.ipynb"
    assert cli.main(["lab", "nope"]) == 1
    assert "error: no notebook 'nope'" in capsys.readouterr().err
