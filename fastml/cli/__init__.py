"""The ``fastml`` command (being written)."""


def main(argv=None):
    raise SystemExit("fastml: the command line is being written")
