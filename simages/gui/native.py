"""Whether `simages serve --native` can open a desktop window here, and if not, exactly what is missing.

The window is pywebview's, drawn by a web engine of the desktop: on Debian and Ubuntu that is WebKitGTK,
reached through PyGObject (the `native` extra) and Debian's own packages. Checked before the server starts,
so a missing piece is one clear message instead of a traceback from inside the window process. Each Debian
package and Python module is checked on its own, and only the missing ones are named: a user who has
installed the system packages is not asked for them again.

`python -m simages.gui.native [--before-install]` prints the same verdict (`make native` runs it).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

# The Debian/Ubuntu package of WebKitGTK's introspection data (what the window draws with), and what pip
# needs to build PyGObject and pycairo for the virtual environment (only while PyGObject is missing).
RUNTIME_PACKAGE = "gir1.2-webkit2-4.1"
BUILD_PACKAGES = ("libgirepository1.0-dev", "libcairo2-dev")
DEBIAN_PACKAGES = " ".join((RUNTIME_PACKAGE, *BUILD_PACKAGES))
# Python module -> the distribution that provides it (the `native` extra's packages).
PYTHON_MODULES = {"webview": "pywebview", "gi": "PyGObject"}


@dataclass(frozen=True)
class Missing:
    """What the window lacks: `debian` packages to install with apt-get, `python` distributions to install
    with pip (the `native` extra)."""

    debian: tuple[str, ...]
    python: tuple[str, ...]

    def __bool__(self) -> bool:
        return bool(self.debian or self.python)


def debian_package_installed(package: str) -> bool | None:
    """Whether Debian's package manager has `package` installed; None where there is no dpkg (not Debian,
    Ubuntu or a derivative), so nothing can be said."""
    if shutil.which("dpkg-query") is None:
        return None
    result = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True,
                            check=False, timeout=30)
    return result.returncode == 0 and result.stdout.strip().endswith(" installed")


def _module_present(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def missing_pieces() -> Missing:
    """The Debian packages and Python distributions the GTK window still needs here (each checked on its
    own; the build packages only while PyGObject is not installed)."""
    python = tuple(dist for module, dist in PYTHON_MODULES.items() if not _module_present(module))
    wanted = [RUNTIME_PACKAGE] + (list(BUILD_PACKAGES) if "PyGObject" in python else [])
    debian = tuple(package for package in wanted if debian_package_installed(package) is False)
    return Missing(debian, python)


def source_checkout() -> Path | None:
    """The folder of SIMages' source checkout this package runs from (an editable install), or None for an
    installed wheel."""
    root = Path(__file__).resolve().parents[2]
    pyproject = root / "pyproject.toml"
    try:
        return root if 'name = "simages"' in pyproject.read_text(encoding="utf-8") else None
    except OSError:
        return None


def install_steps(missing: Missing) -> str:
    """The commands that install what is missing, in order, as part of a sentence ("`sudo apt-get install
    ...` (Debian/Ubuntu), then `pip install ...`")."""
    steps = []
    if missing.debian:
        steps.append(f"`sudo apt-get install {' '.join(missing.debian)}` (Debian/Ubuntu)")
    if missing.python:
        checkout = source_checkout()
        if checkout is not None:
            steps.append(f"`pip install -e '.[native]'` in {checkout} (or `make native` there, for the "
                         "environment `make run` uses)")
        else:
            steps.append("`pip install 'simages[native]'` in SIMages' environment")
    return ", then ".join(steps)


def _has_gtk_webkit() -> bool:
    """PyGObject with GTK 3 and WebKit2 (4.1 or 4.0) typelibs, as pywebview's GTK backend needs them."""
    if not _module_present("gi"):
        return False
    import gi

    for webkit in ("4.1", "4.0"):
        try:
            gi.require_version("Gtk", "3.0")
            gi.require_version("WebKit2", webkit)
        except ValueError:
            continue
        return True
    return False


def _has_qt_webengine() -> bool:
    """A Qt binding with its web engine, pywebview's other backend on Linux (qtpy picks the binding)."""
    if not _module_present("qtpy"):
        return False
    bindings = ("PyQt6", "PyQt5", "PySide6")
    return any(_module_present(name) and _module_present(f"{name}.QtWebEngineWidgets") for name in bindings)


def _missing_text(missing: Missing) -> str:
    parts = []
    if missing.python:
        parts.append(" and ".join(missing.python) + " (Python)")
    if missing.debian:
        parts.append(", ".join(missing.debian) + " (Debian package" + ("s" if len(missing.debian) > 1 else "")
                     + ")")
    return "; ".join(parts)


_ELSE = "; or run without --native and open the printed address in a browser."


def native_problem() -> str | None:
    """None when a desktop window can be opened; otherwise a message naming only what is missing and the
    commands that install it. On Linux a display (X11 or Wayland) is needed as well."""
    webview = _module_present("webview")
    if sys.platform.startswith("linux"):
        if not (webview and (_has_gtk_webkit() or _has_qt_webengine())):
            missing = missing_pieces()
            if not missing:  # e.g. WebKit's typelib where dpkg cannot tell (not Debian)
                missing = Missing((RUNTIME_PACKAGE,), ())
            return (f"simages serve --native needs a desktop window, and this is missing: "
                    f"{_missing_text(missing)}. To get it, run {install_steps(missing)}{_ELSE}")
        if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            return ("simages serve --native needs a desktop session (no DISPLAY or WAYLAND_DISPLAY is set); "
                    "run `simages serve` and open the printed address in a browser instead.")
    elif not webview:
        missing = Missing((), ("pywebview",))
        return (f"simages serve --native needs pywebview, which is not installed. To get it, run "
                f"{install_steps(missing)}{_ELSE}")
    return None


def main(argv: list[str] | None = None) -> int:
    """`--before-install`: exit 1 naming the Debian packages to install first (pip cannot build PyGObject
    without them); otherwise say whether the window can open (exit 1 if something is missing; a missing
    display is not, as the window opens once the app runs in a desktop session)."""
    args = sys.argv[1:] if argv is None else argv
    if "--before-install" in args:
        missing = missing_pieces()
        if missing.debian:
            print(f"first: sudo apt-get install {' '.join(missing.debian)}", file=sys.stderr)
            return 1
        return 0
    problem = native_problem()
    print(problem or "the desktop window is ready: simages serve --native")
    return 1 if problem and "needs a desktop session" not in problem else 0


if __name__ == "__main__":
    raise SystemExit(main())
