"""Exit codes and the error prefix, the same for every command (no import: `simages --help` lists them)."""

from __future__ import annotations

# Exit codes, the same for every command (listed in each command's --help).
EXIT_OK, EXIT_FAILURE, EXIT_BAD_INPUT, EXIT_INTERRUPTED, EXIT_CLOSED_PIPE = 0, 1, 2, 130, 141
EXIT_CODES_HELP = """exit codes:
  0    ok
  1    failure: the network could not run, a file could not be written
  2    bad input: an unknown set or image, a bad option, a set not indexed yet
  130  interrupted (Ctrl-C): no traceback, and no half-written file left behind
  141  the output was closed (e.g. `simages join A B | head`)"""
# The one prefix of every error message (argparse's own included, see simages.cli.Parser).
ERROR_PREFIX = "simages: error: "
