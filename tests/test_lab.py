"""`cnncourse lab`: the JupyterLab command line it builds, and how it runs it (without starting JupyterLab).

tests/test_e2e_browser.py and tests/test_lab_browser.py start the real thing.
"""
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cnncourse import cli, lab, paths
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


# ---------------------------------------------------------------- --present, and no pop-up about Jupyter news

def test_present_is_ours_before_or_after_the_notebook():
    assert cli.split_lab_args(["lab", "--present", "01"]) == (["lab", "--present", "01"], [])
    assert cli.split_lab_args(["lab", "01", "--present", "--port=9"]) == (["lab", "--present", "01"], ["--port=9"])
    assert cli.split_lab_args(["lab", "--present", "01", "--no-browser"]) == \
        (["lab", "--present", "01"], ["--no-browser"])
    args = cli.build_parser().parse_args(["lab", "--present", "01"])
    assert args.present and args.notebook == "01"
    assert not cli.build_parser().parse_args(["lab", "01"]).present


@needs_checkout
def test_present_loads_the_presenting_extension_and_a_workspace_folder_of_its_own(tmp_path):
    command, notes, open_path = cli.lab_command("01", ["--port=8890"], root=False, present=tmp_path)
    assert command[3] == f"--ServerApp.root_dir={NOTEBOOKS.resolve()}"
    assert command[4:] == [f"--LabApp.extra_labextensions_path={tmp_path / 'labextensions'}",
                           f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}",
                           "--port=8890", str((NOTEBOOKS / "01_conv_basics.ipynb").resolve())], \
        "after the course's options, so that JupyterLab options given by hand win"
    assert open_path == "lab/tree/01_conv_basics.ipynb"
    assert any(n.startswith("presenting: presentation mode with large fonts") for n in notes)
    plain, plain_notes, _ = cli.lab_command("01", ["--port=8890"], root=False)
    assert not any("--LabApp." in a for a in plain) and not any("presenting" in n for n in plain_notes)


def test_the_news_question_is_answered_no_by_default_for_every_launch(tmp_path, monkeypatch):
    monkeypatch.setenv(lab.CONFIG_PATH_ENV, "/their/config")
    env = lab.write_settings(tmp_path, present=False)
    assert env == {lab.CONFIG_PATH_ENV: os.pathsep.join([str(tmp_path / "config"), "/their/config"])}, \
        "first, and the user's own entries kept"
    written = json.loads((tmp_path / "config" / "labconfig" / "default_setting_overrides.json").read_text())
    assert written == {"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False}}
    assert not (tmp_path / "labextensions").exists(), "the presenting extension only with --present"


def test_jupyterlab_reads_the_course_defaults_under_the_users_own_settings(tmp_path, monkeypatch):
    settings_utils = pytest.importorskip("jupyterlab_server.settings_utils")
    monkeypatch.delenv(lab.CONFIG_PATH_ENV, raising=False)
    monkeypatch.setenv(lab.CONFIG_PATH_ENV, lab.write_settings(tmp_path / "launch", present=True)[lab.CONFIG_PATH_ENV])
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(tmp_path / "user-config"))
    (tmp_path / "app-settings").mkdir()
    overrides, error = settings_utils._get_overrides(str(tmp_path / "app-settings"))
    assert not error
    assert overrides[lab.NOTIFICATION_PLUGIN]["fetchNews"] == "false"
    assert overrides[lab.NOTEBOOK_PLUGIN] == {"codeCellConfig": {"lineWrap": True}}
    # overrides are defaults: JupyterLab's schema default changes, and a value the user chose still wins
    schema = {"properties": {"fetchNews": {"default": "none"}, "checkForUpdates": {"default": True}}}
    assert settings_utils._override(lab.NOTIFICATION_PLUGIN, schema, overrides)["properties"]["fetchNews"] == \
        {"default": "false"}


def test_present_writes_a_prebuilt_extension_jupyterlab_can_load(tmp_path):
    lab.write_settings(tmp_path, present=True)
    ext = tmp_path / "labextensions" / lab.PRESENT_EXTENSION
    package = json.loads((ext / "package.json").read_text())
    assert package["name"] == lab.PRESENT_EXTENSION
    build = package["jupyterlab"]["_build"]
    assert build["extension"] == "./extension" and (ext / build["load"]).is_file()
    js = (ext / build["load"]).read_text()
    assert f'window._JUPYTERLAB["{lab.PRESENT_EXTENSION}"]' in js and "init:" in js and "get:" in js
    for command in ("application:toggle-presentation-mode", "application:set-mode"):
        assert command in js
    for size in lab.PRESENT_FONTS.values():
        assert size in js
    defaults = json.loads((tmp_path / "config" / "labconfig" / "default_setting_overrides.json").read_text())
    assert defaults[lab.NOTEBOOK_PLUGIN] == {"codeCellConfig": {"lineWrap": True}}
    assert defaults[lab.NOTIFICATION_PLUGIN]["fetchNews"] == "false"
    if shutil.which("node"):
        subprocess.run(["node", "--check", str(ext / build["load"])], check=True)
    jupyterlab_config = pytest.importorskip("jupyterlab_server.config")
    found = jupyterlab_config.get_federated_extensions([str(tmp_path / "labextensions")])
    assert found[lab.PRESENT_EXTENSION]["jupyterlab"]["_build"]["load"] == "static/remoteEntry.js"


def test_course_settings_last_as_long_as_the_block(monkeypatch):
    monkeypatch.delenv(lab.CONFIG_PATH_ENV, raising=False)
    with lab.course_settings(present=True) as folder:
        assert os.environ[lab.CONFIG_PATH_ENV] == str(folder / "config")
        assert (folder / "labextensions" / lab.PRESENT_EXTENSION / "package.json").is_file()
    assert lab.CONFIG_PATH_ENV not in os.environ and not folder.exists()
    monkeypatch.setenv(lab.CONFIG_PATH_ENV, "/their/config")
    with lab.course_settings(present=False):
        assert os.environ[lab.CONFIG_PATH_ENV].endswith(os.pathsep + "/their/config")
    assert os.environ[lab.CONFIG_PATH_ENV] == "/their/config"


@needs_checkout
def test_cnncourse_lab_present_runs_jupyterlab_with_the_course_settings(monkeypatch, capsys):
    ran = {}

    def fake_run_lab(command, open_path):
        config = os.environ[lab.CONFIG_PATH_ENV].split(os.pathsep)[0]
        ran.update(command=command, path=open_path, config=Path(config),
                   defaults=json.loads((Path(config) / "labconfig" / "default_setting_overrides.json").read_text()))
        return 0

    monkeypatch.setattr(cli, "_is_root", lambda: False)
    monkeypatch.setattr(cli, "run_lab", fake_run_lab)
    monkeypatch.delenv(lab.CONFIG_PATH_ENV, raising=False)
    assert cli.main(["lab", "--present", "01", "--port", "8890"]) == 0
    out = capsys.readouterr().out
    assert "cnncourse lab: presenting: presentation mode" in out and "no pop-up about Jupyter news" in out
    folder = ran["config"].parent
    assert f"--LabApp.extra_labextensions_path={folder / 'labextensions'}" in ran["command"]
    assert ran["command"][-3:] == ["--port", "8890", str((NOTEBOOKS / "01_conv_basics.ipynb").resolve())]
    assert ran["defaults"][lab.NOTEBOOK_PLUGIN]["codeCellConfig"]["lineWrap"] is True
    assert not folder.exists() and lab.CONFIG_PATH_ENV not in os.environ, "removed, and the environment restored"

    assert cli.main(["lab", "01"]) == 0  # plain: the news setting, nothing of --present
    assert "no pop-up about Jupyter news" in capsys.readouterr().out
    assert not any(a.startswith("--LabApp.") for a in ran["command"])
    assert ran["defaults"] == lab.setting_defaults(present=False) == lab.NO_NEWS

    assert cli.main(["lab", "--present"]) == 2
    assert "name the notebook to present" in capsys.readouterr().err
