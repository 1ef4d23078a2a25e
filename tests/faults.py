"""A full disk and a read-only folder for a real subprocess.

``run_with_disk(cmd, folder=..., fault="full"|"read-only")`` runs ``cmd`` with ``folder`` on a small
tmpfs mounted in a private mount namespace (``unshare -rm``): a real ENOSPC or EROFS from the
kernel. Where namespaces are not allowed (or ``CNNCOURSE_TEST_NO_TMPFS=1``), the command runs as
``python -m tests.faults`` instead, which patches ``open``/``os.open``/``os.mkdir`` so that writes
under ``folder`` fail with the same errno. Either way ``folder`` afterwards holds what the command
left there.
"""
from __future__ import annotations

import builtins
import errno
import functools
import os
import runpy
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

MOUNT = r'''
set -e
mount -t tmpfs -o size="$FAULT_SIZE" tmpfs "$FAULT_DIR"
cp -a "$FAULT_STAGE"/. "$FAULT_DIR"/
if [ "$FAULT" = full ]; then
  dd if=/dev/zero of="$FAULT_DIR/.filler" bs=4096 2>/dev/null || true
  truncate -s -"$FAULT_FREE" "$FAULT_DIR/.filler"
else
  mount -o remount,ro "$FAULT_DIR"
fi
set +e
"$@"
rc=$?
cp -a "$FAULT_DIR"/. "$FAULT_KEEP"/
rm -f "$FAULT_KEEP/.filler"
exit $rc
'''


@functools.lru_cache(maxsize=1)
def tmpfs_available() -> bool:
    if os.environ.get("CNNCOURSE_TEST_NO_TMPFS") or shutil.which("unshare") is None:
        return False
    with tempfile.TemporaryDirectory() as d:
        proc = subprocess.run(["unshare", "-rm", "sh", "-c", 'mount -t tmpfs -o size=64k tmpfs "$1"', "sh", d],
                              capture_output=True, timeout=30)
    return proc.returncode == 0


def run_with_disk(cmd: list[str], *, folder: Path, fault: str, env: dict, free: int = 12 * 1024,
                  size: str = "1m", cwd: Path | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run ``cmd`` (``[python, "-m", module, ...]``) with ``folder`` full (``free`` bytes left) or read-only."""
    assert fault in ("full", "read-only")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    env = dict(env)
    if tmpfs_available():
        stage, keep = folder.with_name(folder.name + ".stage"), folder.with_name(folder.name + ".keep")
        os.rename(folder, stage)
        folder.mkdir()
        keep.mkdir()
        env.update(FAULT=fault, FAULT_DIR=str(folder), FAULT_STAGE=str(stage), FAULT_KEEP=str(keep),
                   FAULT_SIZE=size, FAULT_FREE=str(free))
        try:
            return subprocess.run(["unshare", "-rm", "sh", "-c", MOUNT, "sh", *cmd], env=env, cwd=cwd,
                                  capture_output=True, text=True, timeout=timeout)
        finally:
            folder.rmdir()  # the empty mount point: the tmpfs went with the namespace
            os.rename(keep, folder)
            shutil.rmtree(stage)
    assert cmd[1] == "-m", "the fallback runs python modules"
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    return subprocess.run([cmd[0], "-m", "tests.faults", str(folder), fault, str(free), *cmd[2:]], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


# ---------------------------------------------------------------- the fallback: patched writes

def _install(folder: Path, fault: str, free: int) -> None:
    folder = folder.resolve()
    code = errno.ENOSPC if fault == "full" else errno.EROFS
    budget = [free]

    def inside(path) -> bool:
        try:
            return Path(os.path.abspath(os.fsdecode(path))).resolve().is_relative_to(folder)
        except (TypeError, ValueError):
            return False

    def fail(path):
        raise OSError(code, os.strerror(code), os.fsdecode(path) if path is not None else None)

    class Full:
        def __init__(self, f):
            self._f = f

        def write(self, data):
            n = min(len(data), budget[0])
            if n:
                self._f.write(data[:n])
                budget[0] -= n
            if n < len(data):
                self._f.flush()
                fail(None)
            return n

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self._f.close()

        def __iter__(self):
            return iter(self._f)

        def __getattr__(self, name):
            return getattr(self._f, name)

    real_open, real_os_open, real_mkdir = builtins.open, os.open, os.mkdir

    def patched_open(file, mode="r", *args, **kwargs):
        writing = any(c in mode for c in "wxa+")
        if writing and isinstance(file, (str, bytes, os.PathLike)) and inside(file):
            if code == errno.EROFS:
                fail(file)
            return Full(real_open(file, mode, *args, **kwargs))
        return real_open(file, mode, *args, **kwargs)

    def patched_os_open(path, flags, *args, **kwargs):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT) and inside(path) and code == errno.EROFS:
            fail(path)
        return real_os_open(path, flags, *args, **kwargs)

    def patched_mkdir(path, *args, **kwargs):
        if inside(path) and code == errno.EROFS:
            fail(path)
        return real_mkdir(path, *args, **kwargs)

    builtins.open, os.open, os.mkdir = patched_open, patched_os_open, patched_mkdir


if __name__ == "__main__":
    folder, fault, free, module, *rest = sys.argv[1:]
    _install(Path(folder), fault, int(free))
    sys.argv = [module, *rest]
    runpy.run_module(module, run_name="__main__", alter_sys=True)
