"""The ``fastml`` command: ``main(argv=None) -> int`` (console script ``fastml``, also ``python -m fastml``).

Design: argparse with one module per subcommand group, each a thin shell over a public Python function
(``fastml.tabular``, ``fastml.demo``, ``fastml.persistence``, ``fastml.serving``). This package imports
only the standard library at import time; NumPy, scikit-learn, Numba and the kernels load inside the
subcommand that needs them, so ``fastml --help`` answers in a fraction of a second.

Exit codes: 0 ok, 1 error (one line on stderr; the traceback with ``--debug``), 2 usage (argparse),
3 drift found with ``fastml drift --fail-on-drift``.
"""
import argparse
import os
import sys

from . import _output
from ._output import EXIT_ERROR, EXIT_OK, CommandError

__all__ = ["build_parser", "main"]

DESCRIPTION = """fastml: fast, trustworthy linear models, from data to monitoring.

Start with `fastml demo`: the whole life of a model on a data set that ships with scikit-learn
(train, compare solvers, cross-validate, tune the threshold, save, reload, serve, detect drift, retrain)."""

EPILOG = """exit codes: 0 ok, 1 error, 2 usage, 3 drift found (with --fail-on-drift).
Every subcommand accepts --json (one JSON document on stdout) and --debug (tracebacks)."""


def _common_options():
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    common.add_argument("--debug", action="store_true", help="show the traceback of an error")
    return common


def build_parser():
    """The argparse parser of the ``fastml`` command (subcommands registered by their modules)."""
    from . import bench, demo, drift, model, serve

    common = _common_options()
    parser = argparse.ArgumentParser(prog="fastml", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"fastml {_version()}")
    subcommands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in (demo, model, drift, serve, bench):
        module.register(subcommands, common)
    return parser


def _version():
    from .. import __version__

    return __version__


def main(argv=None):
    """Run the ``fastml`` command with ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return _output.EXIT_USAGE
    debug = getattr(args, "debug", False) or os.environ.get("FASTML_DEBUG") == "1"
    try:
        code = args.handler(args)
        return EXIT_OK if code is None else int(code)
    except KeyboardInterrupt:
        print("fastml: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # every failure becomes one line (and exit code 1) unless --debug
        if debug:
            raise
        print(f"fastml {args.command}: error: {_describe(exc)}", file=sys.stderr)
        return EXIT_ERROR


def _describe(exc):
    if isinstance(exc, CommandError):
        return str(exc)
    if isinstance(exc, FileNotFoundError):
        return str(exc) if exc.filename is None else f"no such file: {exc.filename!r}"
    message = str(exc).strip().splitlines()
    text = message[0] if message else ""
    kind = type(exc).__name__
    return f"{kind}: {text}" if text else kind
