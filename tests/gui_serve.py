"""Serve the GUI for browser tests: `python -m tests.gui_serve ROOT PORT`.

Uses the real IndexManager with the tiny stand-in network, so sets under ROOT/image_sets are indexed
by the app itself, as in production, but in a second instead of minutes. The same server as
`python -m simages.bench.app_server ROOT PORT tiny`, under the short name the tests and docs use.
"""

from __future__ import annotations

import sys

from simages.bench.app_server import main

if __name__ == "__main__":
    main([*sys.argv[1:3], "tiny"])
