"""`cnncourse lab`'s own JupyterLab settings, written for one launch: no Jupyter news pop-up, and ``--present``.

JupyterLab asks on its first start, in a pop-up, "Would you like to get notified about official Jupyter
news?": the news cannot be fetched offline, and the pop-up covers the projector. ``cnncourse lab`` gives
JupyterLab the answer "no" as a *default* (``fetchNews: "false"``), through the layer JupyterLab reads
defaults from: ``labconfig/default_setting_overrides.json`` in a folder put first on ``JUPYTER_CONFIG_PATH``.
A default only: settings a user chose (Settings > Settings Editor, kept in ``~/.jupyter/lab/user-settings``)
still win, and nothing is written to ``~/.jupyter`` or into the environment's ``share/jupyter``.

``--present`` adds, for that launch only:

- a small prebuilt JupyterLab extension (``cnncourse-present``, loaded with ``--LabApp.extra_labextensions_path``)
  that turns on, once JupyterLab is up, JupyterLab's own presentation mode (View > Presentation Mode) with
  large fonts, the simple interface (one document, no tabs; View > Simple Interface) and closes the side
  panels. Turning presentation mode off again (View > Presentation Mode) brings the usual font sizes back.
  No setting can do this: JupyterLab has none for presentation mode, and applies the theme's font-size
  overrides (Settings > Theme) from the user's own settings only, never from defaults;
- code cells that wrap long lines instead of scrolling sideways (a default, as above);
- a fresh workspace folder (``--LabApp.workspaces_dir``), so that the presenting layout is not saved into
  the user's own JupyterLab workspace.

The folder is a temporary one, removed when JupyterLab stops.
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

CONFIG_PATH_ENV = "JUPYTER_CONFIG_PATH"
NOTIFICATION_PLUGIN = "@jupyterlab/apputils-extension:notification"
NOTEBOOK_PLUGIN = "@jupyterlab/notebook-extension:tracker"
# "none" (JupyterLab's default) asks about the news in a pop-up; "false" never fetches them (and never asks).
# checkForUpdates only acts when news are fetched; off as well, since an update check needs the internet too.
NO_NEWS = {NOTIFICATION_PLUGIN: {"fetchNews": "false", "checkForUpdates": False}}
PRESENT_DEFAULTS = {NOTEBOOK_PLUGIN: {"codeCellConfig": {"lineWrap": True}}}

PRESENT_EXTENSION = "cnncourse-present"
# Font sizes in presentation mode (JupyterLab's own presentation sizes are 16 px for code, 17 px for text).
PRESENT_FONTS = {"code": "20px", "content": "22px", "ui": "16px"}

_PRESENT_JS = """\
// cnncourse lab --present: a prebuilt JupyterLab extension, written by hand (no build step): a module
// federation container (init, get), which is how JupyterLab loads prebuilt extensions.
(function () {
  var STYLE = %(style)s;
  var plugin = {
    id: "cnncourse-present:plugin",
    description: "cnncourse lab --present: presentation mode with large fonts, simple interface, side panels closed",
    autoStart: true,
    activate: function (app) {
      var commands = app.commands;
      var style = document.createElement("style");
      style.id = "cnncourse-present-style";
      style.textContent = STYLE;
      document.head.appendChild(style);
      function run(id, args) {
        return commands.hasCommand(id) ? commands.execute(id, args || {}) : Promise.resolve();
      }
      app.restored.then(function () {
        return run("application:set-mode", {mode: "single-document"});
      }).then(function () {
        if (app.shell.collapseLeft) { app.shell.collapseLeft(); }
        if (app.shell.collapseRight) { app.shell.collapseRight(); }
        if (!commands.isToggled("application:toggle-presentation-mode")) {
          return run("application:toggle-presentation-mode");
        }
      }).then(function () {
        document.body.setAttribute("data-cnncourse-present", "ready");
      }).catch(function (error) {
        console.error("cnncourse lab --present:", error);
      });
    }
  };
  window._JUPYTERLAB = window._JUPYTERLAB || {};
  window._JUPYTERLAB[%(name)s] = {
    init: function () { return Promise.resolve(); },
    get: function (module) {
      if (module !== "./extension") {
        return Promise.reject(new Error(%(name)s + " has no module " + module));
      }
      return Promise.resolve(function () { return {__esModule: true, default: [plugin]}; });
    }
  };
})();
"""


def present_style(fonts: dict[str, str] = PRESENT_FONTS) -> str:
    """The CSS of ``--present``: the font sizes of JupyterLab's presentation mode, and the UI's, while it is on."""
    return (".jp-LabShell.jp-mod-presentationMode {"
            f" --jp-code-presentation-font-size: {fonts['code']};"
            f" --jp-content-presentation-font-size1: {fonts['content']};"
            f" --jp-ui-font-size1: {fonts['ui']}; }}")


def setting_defaults(present: bool) -> dict:
    """The JupyterLab settings ``cnncourse lab`` sets as defaults, by plugin."""
    return {**NO_NEWS, **(PRESENT_DEFAULTS if present else {})}


def write_present_extension(folder: Path) -> Path:
    """Write the ``cnncourse-present`` extension as ``folder/cnncourse-present``; ``folder`` is a labextensions path."""
    ext = folder / PRESENT_EXTENSION
    (ext / "static").mkdir(parents=True, exist_ok=True)
    js = _PRESENT_JS % {"name": json.dumps(PRESENT_EXTENSION), "style": json.dumps(present_style())}
    (ext / "static" / "remoteEntry.js").write_text(js, encoding="utf-8")
    package = {"name": PRESENT_EXTENSION, "version": "1.0.0", "private": True,
               "description": "cnncourse lab --present (written by cnncourse for one launch of JupyterLab)",
               "jupyterlab": {"extension": True,
                              "_build": {"load": "static/remoteEntry.js", "extension": "./extension"}}}
    (ext / "package.json").write_text(json.dumps(package, indent=2) + "\n", encoding="utf-8")
    return ext


def write_settings(folder: Path, present: bool) -> dict[str, str]:
    """Write the course's settings for one launch of JupyterLab under ``folder``; the environment that makes
    JupyterLab read them (``JUPYTER_CONFIG_PATH`` with ``folder/config`` first, the user's own entries after it)."""
    config = folder / "config"
    (config / "labconfig").mkdir(parents=True, exist_ok=True)
    (config / "labconfig" / "default_setting_overrides.json").write_text(
        json.dumps(setting_defaults(present), indent=2) + "\n", encoding="utf-8")
    if present:
        write_present_extension(folder / "labextensions")
        (folder / "workspaces").mkdir(exist_ok=True)
    previous = os.environ.get(CONFIG_PATH_ENV)
    return {CONFIG_PATH_ENV: os.pathsep.join([str(config), *([previous] if previous else [])])}


def present_args(folder: Path) -> list[str]:
    """JupyterLab's options for ``--present``, with the folder :func:`write_settings` wrote into."""
    return [f"--LabApp.extra_labextensions_path={folder / 'labextensions'}",
            f"--LabApp.workspaces_dir={folder / 'workspaces'}"]


@contextlib.contextmanager
def course_settings(present: bool) -> Iterator[Path]:
    """A temporary folder with the course's settings for one launch of JupyterLab, and ``JUPYTER_CONFIG_PATH``
    pointing at it while the block runs (JupyterLab, started inside it, inherits it); both go afterwards."""
    with tempfile.TemporaryDirectory(prefix="cnncourse-lab-", ignore_cleanup_errors=True) as tmp:
        folder = Path(tmp)
        env = write_settings(folder, present)
        previous = {name: os.environ.get(name) for name in env}
        os.environ.update(env)
        try:
            yield folder
        finally:
            for name, value in previous.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
