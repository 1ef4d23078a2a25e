"""The README, pyproject.toml, environment.yml and CI describe one and the same installation."""
import re
import subprocess
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

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
    assert "pip install" in setup and setup.endswith("&& cnncourse lab")
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
    assert {"pytest", "nbval", "ruff", "nbclient", "playwright"} <= dev


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


def direct_lower_bounds() -> dict[str, Version]:
    """Every direct dependency of pyproject.toml, all extras included, -> its one ``>=`` lower bound."""
    bounds: dict[str, set[Version]] = {}
    for dep in PYPROJECT["project"]["dependencies"] + sum(PYPROJECT["project"]["optional-dependencies"].values(), []):
        req = Requirement(dep)
        lower = [Version(s.version) for s in req.specifier if s.operator == ">="]
        assert len(lower) == 1, f"{dep}: exactly one '>=' lower bound, please"
        bounds.setdefault(canonicalize_name(req.name), set()).add(lower[0])
    for name, found in bounds.items():
        assert len(found) == 1, f"{name} is declared with different lower bounds: {sorted(map(str, found))}"
    return {name: found.pop() for name, found in bounds.items()}


def pins(path: Path) -> dict[str, str]:
    pinned = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, sep, version = line.partition("==")
            assert sep and version, f"{path.name}: {line!r} is not a name==version pin"
            name = canonicalize_name(name)
            assert name not in pinned, f"{path.name} pins {name} twice"
            pinned[name] = version.strip()
    return pinned


def test_lowest_constraints_pin_every_direct_dependency_at_its_declared_lower_bound():
    bounds = direct_lower_bounds()
    lowest = pins(ROOT / ".ci" / "constraints-lowest.txt")
    assert sorted(set(bounds) - set(lowest)) == [], "direct dependencies missing from .ci/constraints-lowest.txt"
    assert sorted(set(lowest) - set(bounds)) == [], "pinned in .ci/constraints-lowest.txt, but not a direct dependency"
    wrong = {name: (lowest[name], str(bound)) for name, bound in bounds.items() if Version(lowest[name]) != bound}
    assert wrong == {}, "constraints-lowest pin vs pyproject lower bound: raise both together"


def test_newest_constraints_satisfy_the_declared_ranges():
    newest = pins(ROOT / ".ci" / "constraints.txt")
    for dep in PYPROJECT["project"]["dependencies"] + PYPROJECT["project"]["optional-dependencies"]["dev"]:
        req = Requirement(dep)
        version = newest[canonicalize_name(req.name)]
        assert req.specifier.contains(version, prereleases=True), f"{req.name}=={version} in constraints.txt vs {dep}"


def test_ci_runs_the_lowest_versions_check_after_the_readme_line():
    run = (ROOT / ".ci" / "run").read_text()
    assert "bash .ci/lowest" in run
    assert run.index('bash -euo pipefail -c "$cmd"') < run.index("bash .ci/lowest")
    lowest = (ROOT / ".ci" / "lowest").read_text()
    assert lowest.startswith("#!/usr/bin/env bash") and "set -euo pipefail" in lowest
    assert "CONSTRAINTS=.ci/constraints-lowest.txt" in lowest
    assert 'pip install -q -e ".[dev]" -c "$CONSTRAINTS"' in lowest
    assert "raise it in pyproject.toml and .ci/constraints-lowest.txt" in lowest
    assert ".venv-lowest/" in (ROOT / ".gitignore").read_text().splitlines()
    assert "bash .ci/lowest" in (ROOT / "README.md").read_text(), "the README says how to run it by hand"


def test_ci_installs_chromium_for_the_browser_test_which_has_a_marker():
    run = (ROOT / ".ci" / "run").read_text()
    assert "apt-get install -y -qq chromium" in run and "DEBIAN_FRONTEND=noninteractive" in run
    assert run.index("apt-get install") < run.index('bash -euo pipefail -c "$cmd"'), "before the tests run"
    assert "SKIPPED" in run, "without apt-get, CI says the browser test is skipped"
    markers = PYPROJECT["tool"]["pytest"]["ini_options"]["markers"]
    assert any(m.startswith("e2e:") for m in markers)
    e2e = (ROOT / "tests" / "test_e2e_browser.py").read_text()
    assert "pytestmark = pytest.mark.e2e" in e2e and "executable_path" in e2e and "playwright install" not in e2e


def _package_imports() -> dict[str, set[str]]:
    """Module -> the package modules it imports, at the top or inside functions (lazy imports count)."""
    import ast

    pkg = ROOT / "cnncourse"
    modules = {}
    for path in pkg.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = (path, parts[-1] == "__init__")
    graph = {}
    for name, (path, is_pkg) in modules.items():
        here = name if is_pkg else name.rsplit(".", 1)[0]
        edges = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = here.rsplit(".", node.level - 1)[0] if node.level > 1 else here
                    target = f"{base}.{node.module}" if node.module else base
                else:
                    target = node.module or ""
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    edges.add(sub if sub in modules else target)
            elif isinstance(node, ast.Import):
                edges.update(a.name for a in node.names)
        graph[name] = {e for e in edges if e in modules and e != name}
    return graph


def test_the_package_has_no_import_cycles():
    graph = _package_imports()
    assert "cnncourse.cli" in graph and "cnncourse.bench" in graph["cnncourse.cli"]
    state: dict[str, int] = {}

    def visit(node, path):
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join(path[path.index(nxt):] + [nxt]))
            if nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])


def test_the_package_version_matches_pyproject():
    import re

    from cnncourse.version import __version__

    declared = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M).group(1)
    assert __version__ == declared
