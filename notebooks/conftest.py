"""nbval compares notebook outputs without their stderr streams.

Stderr carries TensorFlow and library log lines, download progress and one-off data reports that
change with versions, machines and what is already cached; the lessons' checked outputs are on
stdout and in display data. pytest loads this conftest for any notebook collected from this folder.
"""
from __future__ import annotations


def _without_stderr(outputs):
    return [o for o in outputs if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]


def pytest_configure(config):
    try:
        from nbval.plugin import IPyNbCell
    except ImportError:  # nbval not installed: nothing to adjust
        return
    if getattr(IPyNbCell.compare_outputs, "_drops_stderr", False):
        return
    original = IPyNbCell.compare_outputs

    def compare_outputs(self, test, ref, skip_compare=None):
        return original(self, _without_stderr(test), _without_stderr(ref), skip_compare)

    compare_outputs._drops_stderr = True
    IPyNbCell.compare_outputs = compare_outputs

# executed copies that `cnncourse run` keeps when a notebook fails are not lessons to test
collect_ignore_glob = ["*.failed.ipynb"]
