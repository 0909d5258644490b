#!/usr/bin/env python3
"""Set up and run napari-datatools: ``run`` opens napari, ``test`` runs the suite,
``lint`` runs only ruff and mypy.

Called by ``make run`` / ``make test`` (see README.md). Uses only the standard
library so it works on a fresh machine with nothing but Python 3.11+.

- creates ``.venv`` (installing Debian's venv package first if root and needed),
- installs the package into it (``[pyqt6]`` for run, ``[testing]`` for test),
- installs Xvfb and Mesa with apt-get when running as root (napari draws with
  OpenGL, so ``QT_QPA_PLATFORM=offscreen`` alone is not enough),
- ``run``: opens napari on the display, or without one runs the same flow under
  Xvfb, saves a screenshot and prints where it is,
- ``test``: runs ``ruff check`` and ``mypy`` first, then pytest under a virtual
  display; extra arguments go to pytest only. ``DATATOOLS_LINT`` decides what a
  ruff or mypy finding does: ``fail`` (the run fails before pytest), ``warn``
  (reported, pytest still runs and decides the exit code) or ``off`` (skipped).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
PY = VENV / "bin" / "python"
SCREEN = "-screen 0 1600x1100x24"
# What `make test` lints and type-checks before pytest runs.
RUFF_PATHS = ["napari_datatools", "tests", "benchmarks", "docs"]
MYPY_PATHS = ["napari_datatools"]
LINT_MODES = ("fail", "warn", "off")
# The default of DATATOOLS_LINT: a ruff or mypy finding fails the run before pytest.
LINT_DEFAULT = "fail"
# Xvfb, Mesa's software OpenGL, and the X/xcb libraries Qt 6 loads.
SYSTEM_PACKAGES = [
    "xvfb", "xauth", "libgl1", "libglx-mesa0", "libgl1-mesa-dri", "libegl1",
    "libegl-mesa0", "libxkbcommon-x11-0", "libxkbcommon0", "libxcb-cursor0",
    "libxcb-icccm4", "libxcb-image0", "libxcb-keysyms1", "libxcb-randr0",
    "libxcb-render-util0", "libxcb-shape0", "libxcb-xinerama0", "libxcb-xfixes0",
    "libxcb-xkb1", "libx11-xcb1", "libdbus-1-3", "libfontconfig1", "libxrender1",
    "libxi6", "libsm6", "libice6", "libxext6",
]


def say(msg: str) -> None:
    print(f"[dev] {msg}", flush=True)


def sh(*cmd: str | os.PathLike, **kw) -> None:
    subprocess.run([os.fspath(c) for c in cmd], check=True, **kw)


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def missing_debs(names: list[str]) -> list[str]:
    if not shutil.which("dpkg-query"):
        return []
    out = []
    for name in names:
        res = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", name], capture_output=True, text=True
        )
        if "install ok installed" not in res.stdout:
            out.append(name)
    return out


def apt_install(names: list[str]) -> None:
    """Install Debian packages as root; packages this release lacks are skipped."""
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    say(f"apt-get install {' '.join(names)}")
    sh("apt-get", "update", "-qq", env=env)
    try:
        sh("apt-get", "install", "-y", "-qq", "--no-install-recommends", *names, env=env)
    except subprocess.CalledProcessError:
        for name in names:  # one by one: a renamed package must not block the rest
            res = subprocess.run(
                ["apt-get", "install", "-y", "-qq", "--no-install-recommends", name], env=env
            )
            if res.returncode:
                say(f"warning: could not install {name}")


def ensure_display_packages() -> None:
    missing = missing_debs(SYSTEM_PACKAGES) if shutil.which("apt-get") else []
    if missing and is_root():
        apt_install(missing)
    elif missing:
        say(
            "napari needs a virtual display and OpenGL to draw without a screen; "
            f"please install (as root): apt-get install {' '.join(missing)}"
        )
    if not shutil.which("xvfb-run"):
        sys.exit("[dev] xvfb-run not found: install the 'xvfb' and 'xauth' packages (as root).")


def ensure_venv(extra: str) -> None:
    if not PY.exists():
        say(f"creating {VENV}")
        res = subprocess.run([sys.executable, "-m", "venv", os.fspath(VENV)])
        if res.returncode and is_root() and shutil.which("apt-get"):
            shutil.rmtree(VENV, ignore_errors=True)
            ver = f"python{sys.version_info.major}.{sys.version_info.minor}-venv"
            apt_install([ver, "python3-venv"])
            res = subprocess.run([sys.executable, "-m", "venv", os.fspath(VENV)])
        if res.returncode:
            sys.exit("[dev] could not create .venv: install Debian's python3-venv package")
    say(f"installing napari-datatools[{extra}] into .venv")
    sh(PY, "-m", "pip", "install", "-q", "--upgrade", "pip")
    sh(PY, "-m", "pip", "install", "-q", "-e", f"{ROOT}[{extra}]")


def xvfb(*cmd: str | os.PathLike) -> int:
    env = dict(os.environ, QT_QPA_PLATFORM="xcb", LIBGL_ALWAYS_SOFTWARE="1")
    args = ["xvfb-run", "-a", "-s", SCREEN, *map(os.fspath, cmd)]
    return subprocess.run(args, cwd=ROOT, env=env).returncode


def run() -> int:
    ensure_venv("pyqt6")
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return subprocess.run([PY, "-m", "napari_datatools._launch"], cwd=ROOT).returncode
    say("no display: running the same flow under Xvfb and saving a screenshot")
    ensure_display_packages()
    return xvfb(PY, "-m", "napari_datatools._launch", "--screenshot", ROOT / "napari-datatools.png")


def lint_mode() -> str:
    mode = os.environ.get("DATATOOLS_LINT", LINT_DEFAULT).strip().lower()
    if mode not in LINT_MODES:
        sys.exit(f"[dev] DATATOOLS_LINT must be one of {', '.join(LINT_MODES)}, got {mode!r}")
    return mode


def static_checks() -> list[str]:
    """Run ruff and mypy from the venv; return the names of those that found problems."""
    failed = []
    for name, cmd in (
        ("ruff", [PY, "-m", "ruff", "check", *RUFF_PATHS]),
        ("mypy", [PY, "-m", "mypy", *MYPY_PATHS]),
    ):
        say(" ".join(map(os.fspath, cmd[1:])))
        if subprocess.run(cmd, cwd=ROOT).returncode:
            failed.append(name)
    return failed


def test(pytest_args: list[str]) -> int:
    mode = lint_mode()
    ensure_display_packages()
    ensure_venv("testing")
    if mode != "off":
        failed = static_checks()
        if failed and mode == "fail":
            say(f"{' and '.join(failed)} found problems: not running pytest (DATATOOLS_LINT=fail)")
            return 1
        if failed:
            say(f"{' and '.join(failed)} found problems (DATATOOLS_LINT=warn: running pytest)")
    return xvfb(PY, "-m", "pytest", *pytest_args)


def lint() -> int:
    ensure_venv("testing")
    failed = static_checks()
    if failed:
        say(f"{' and '.join(failed)} found problems")
    return 1 if failed else 0


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in ("run", "test", "lint"):
        sys.exit("usage: dev.py run | test [pytest arguments] | lint")
    if sys.argv[1] == "run":
        return run()
    return lint() if sys.argv[1] == "lint" else test(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
