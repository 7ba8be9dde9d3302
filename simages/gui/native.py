"""Whether `simages serve --native` can open a desktop window here, and if not, what to install.

The window is pywebview's, drawn by a web engine of the desktop: on Debian and Ubuntu that is WebKitGTK,
reached through PyGObject (the `native` extra) and Debian's own packages. Checked before the server starts,
so a missing piece is one clear message instead of a traceback from inside the window process.
"""

from __future__ import annotations

import importlib.util
import os
import sys

# Debian/Ubuntu packages for pywebview's GTK backend: WebKitGTK's introspection data, and what pip needs to
# build PyGObject and pycairo for the virtual environment.
DEBIAN_PACKAGES = "gir1.2-webkit2-4.1 libgirepository1.0-dev libcairo2-dev"
INSTALL_HINT = (
    f"install the desktop-window extra: `sudo apt-get install {DEBIAN_PACKAGES}` (Debian/Ubuntu), then "
    "`pip install 'simages[native]'` in SIMages' environment (pywebview and PyGObject); or run without "
    "--native and open the printed address in a browser."
)


def _has_gtk_webkit() -> bool:
    """PyGObject with GTK 3 and WebKit2 (4.1 or 4.0) typelibs, as pywebview's GTK backend needs them."""
    if importlib.util.find_spec("gi") is None:
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
    if importlib.util.find_spec("qtpy") is None:
        return False
    bindings = ("PyQt6", "PyQt5", "PySide6")
    return any(importlib.util.find_spec(name) is not None and
               importlib.util.find_spec(f"{name}.QtWebEngineWidgets") is not None for name in bindings)


def native_problem() -> str | None:
    """None when a desktop window can be opened; otherwise a message saying what is missing and how to get
    it. On Linux a display (X11 or Wayland) is needed as well."""
    if importlib.util.find_spec("webview") is None:
        return f"simages serve --native needs pywebview, which is not installed: {INSTALL_HINT}"
    if sys.platform.startswith("linux"):
        if not (_has_gtk_webkit() or _has_qt_webengine()):
            return ("simages serve --native found pywebview but no web engine for its window (WebKitGTK via "
                    f"PyGObject, or Qt WebEngine): {INSTALL_HINT}")
        if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            return ("simages serve --native needs a desktop session (no DISPLAY or WAYLAND_DISPLAY is set); "
                    "run `simages serve` and open the printed address in a browser instead.")
    return None
