"""How every subcommand talks: one JSON document on stdout with ``--json``, readable lines otherwise,
errors as one line on stderr, progress bars on stderr only when it is a terminal.

Design: nothing here imports NumPy, Numba or scikit-learn, so that ``fastml --help`` stays fast.
"""
import json
import math
import sys

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_DRIFT = 0, 1, 2, 3


class CommandError(Exception):
    """An error the user can fix (bad file, bad option value): printed as one line, exit code 1."""


def jsonable(value):
    """Nested data -> JSON-ready Python (NumPy scalars/arrays unwrapped, NaN/inf -> None)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        return jsonable(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def emit_json(document, stream=None):
    stream = stream or sys.stdout
    json.dump(jsonable(document), stream, indent=2, sort_keys=False, allow_nan=False)
    stream.write("\n")
    stream.flush()


def say(text="", *, json_mode=False):
    """A human-readable line on stdout (silent with ``--json``: stdout then holds only the document)."""
    if not json_mode:
        print(text, flush=True)


def progress_enabled():
    return sys.stderr.isatty()


def progress_bar(total, desc):
    """A tqdm bar on stderr when it is a terminal, else a no-op object with the same ``update``/``close``."""
    if progress_enabled():
        try:
            from tqdm import tqdm

            return tqdm(total=total, desc=desc, leave=False, file=sys.stderr)
        except ImportError:
            pass
    return _NoBar()


class _NoBar:
    def update(self, n=1):
        return None

    def set_description(self, desc):
        return None

    def close(self):
        return None


def format_table(rows, columns, floats="{:.4g}"):
    """Fixed-width text table of ``rows`` (dicts) over ``columns`` (keys); None prints as '-'."""
    def cell(value):
        if value is None:
            return "-"
        if isinstance(value, float):
            return floats.format(value)
        return str(value)

    cells = [[cell(row.get(c)) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)) for r in cells]
    return "\n".join(lines)
