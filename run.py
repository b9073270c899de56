#!/usr/bin/env python3
"""Bootstrap and run careloop on a machine with only Python 3.11+.

    python3 run.py up      start the whole platform with demo data (Ctrl-C stops it)
    python3 run.py test    run the test suite
    python3 run.py <careloop args>   anything else goes to the `careloop` command

It finds uv (on PATH, or installs it once with pip into .careloop/tools), syncs the locked
workspace into .venv, and runs the command there. Nothing is installed system-wide.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
TOOLS = ROOT / ".careloop" / "tools"
UV_VERSION = "0.13.8"


def find_uv() -> list[str]:
    """Return a command that runs uv, installing it into .careloop/tools if there is none."""
    if os.environ.get("CARELOOP_UV"):
        return [os.environ["CARELOOP_UV"]]
    local = TOOLS / "bin" / "uv"
    if local.exists():
        return [str(local)]
    on_path = shutil.which("uv")
    if on_path:
        return [on_path]
    print(f"careloop: installing uv {UV_VERSION} into {TOOLS} (once)", file=sys.stderr)
    try:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--target",
                str(TOOLS),
                f"uv=={UV_VERSION}",
            ],
            check=True,
        )
    except (subprocess.CalledProcessError, FileNotFoundError):
        sys.exit("careloop: could not install uv with pip; install uv (https://docs.astral.sh/uv/) and retry")
    if local.exists():
        return [str(local)]
    # pip --target keeps the package importable even where it put no script.
    env_path = os.environ.get("PYTHONPATH", "")
    os.environ["PYTHONPATH"] = f"{TOOLS}{os.pathsep}{env_path}" if env_path else str(TOOLS)
    return [sys.executable, "-m", "uv"]


def main(argv: list[str]) -> int:
    """Sync the workspace and run the requested command inside it."""
    if sys.version_info < (3, 11):
        sys.exit("careloop needs Python 3.11 or newer")
    uv = find_uv()
    os.environ.setdefault("UV_PYTHON", sys.executable)
    subprocess.run([*uv, "sync", "--frozen", "--all-packages", "--quiet"], cwd=ROOT, check=True)
    args = argv or ["--help"]
    if args[0] == "test":
        # Two cores: two workers. Extra arguments go to pytest (e.g. -m slow, -k name).
        command = [
            *uv,
            "run",
            "--frozen",
            "--no-sync",
            "pytest",
            "-n",
            os.environ.get("CARELOOP_TEST_WORKERS", "2"),
            # Tests marked xdist_group stay on one worker (a module sharing one platform start).
            "--dist",
            "loadgroup",
            *args[1:],
        ]
    else:
        command = [*uv, "run", "--frozen", "--no-sync", "careloop", *args]
    # `up` keeps its state under ./.careloop of the caller's directory; tests run from the repo.
    child = subprocess.Popen(command, cwd=ROOT if args[0] == "test" else None)
    # A process manager stops us with SIGTERM (or SIGHUP): pass it on, or the platform is orphaned.
    for stop in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(stop, lambda signum, _frame: child.send_signal(signum))
    while True:
        try:
            return child.wait()
        except KeyboardInterrupt:
            continue  # the child got the same Ctrl-C: wait while it stops cleanly


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
