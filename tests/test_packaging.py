"""The README, pyproject.toml, environment.yml and CI describe one and the same installation."""
import re
import subprocess
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def readme_commands():
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)```", text, re.S).group(1)
    return [line for line in block.splitlines() if line and not line.startswith("#")], text


def test_readme_starts_with_the_two_commands_and_ci_runs_the_second():
    commands, text = readme_commands()
    assert len(commands) == 2
    assert text.index("```bash") < text.index("\n## "), "the commands come first, before any section"
    setup, tests = commands
    assert "pip install" in setup and "jupyter lab" in setup
    assert "pytest" in tests and "CNNCOURSE_PROFILE=quick" in tests
    ci = (ROOT / ".ci" / "run").read_text()
    assert "# set up and run the tests" in ci
    extracted = subprocess.run(["awk", '/^# set up and run the tests$/ {getline; print; exit}', "README.md"],
                               cwd=ROOT, capture_output=True, text=True).stdout.strip()
    assert extracted == tests


def test_dependencies_have_lower_bounds_not_pins():
    deps = PYPROJECT["project"]["dependencies"] + sum(PYPROJECT["project"]["optional-dependencies"].values(), [])
    for dep in deps:
        assert ">=" in dep and "==" not in dep, dep
    names = {re.split(r"[<>=\[ ]", d)[0].lower() for d in PYPROJECT["project"]["dependencies"]}
    assert {"tensorflow", "keras", "numpy", "matplotlib", "pandas", "ipywidgets", "jupyterlab", "pillow"} <= names
    dev = {re.split(r"[<>=\[ ]", d)[0].lower() for d in PYPROJECT["project"]["optional-dependencies"]["dev"]}
    assert {"pytest", "nbval", "ruff", "nbclient"} <= dev


def test_constraints_cover_every_dependency():
    pinned = {}
    for line in (ROOT / ".ci" / "constraints.txt").read_text().splitlines():
        if "==" in line:
            name, version = line.split("==")
            pinned[name.lower().replace("_", "-")] = version
    for dep in PYPROJECT["project"]["dependencies"] + PYPROJECT["project"]["optional-dependencies"]["dev"]:
        name = re.split(r"[<>=\[ ]", dep)[0].lower().replace("_", "-")
        assert name in pinned, f"{name} is not in .ci/constraints.txt"


def test_environment_yml_installs_the_same_package_and_extras():
    env = (ROOT / "environment.yml").read_text()
    assert re.search(r"^\s*- conda-forge\s*$", env, re.M)
    python = re.search(r"^\s*- python=(\d+)\.(\d+)", env, re.M)
    required = re.search(r">=(\d+)\.(\d+)", PYPROJECT["project"]["requires-python"])
    assert tuple(map(int, python.groups())) >= tuple(map(int, required.groups()))
    pip_lines = re.findall(r"^\s{6}- (.+)$", env, re.M)
    assert "-e .[dev]" in pip_lines and "-c .ci/constraints.txt" in pip_lines
    # nothing else sneaks in that pyproject.toml does not declare
    assert set(pip_lines) == {"-e .[dev]", "-c .ci/constraints.txt"}
