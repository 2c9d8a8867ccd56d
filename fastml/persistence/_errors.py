"""The one error type that ``fastml.load`` and ``fastml.inspect`` raise for a bad model file."""


class ModelFileError(ValueError):
    """A model file is not a valid, safe fastml model file.

    Raised by :func:`fastml.load` and :func:`fastml.inspect` for every defect of the file itself:
    not a zip archive (a pickle file, for instance), truncated or bit-flipped content (checksums),
    unsafe or unexpected member names, sizes over the limits (zip bombs), an unknown estimator
    class, a newer format version, a missing or extra array, object arrays. When it is raised
    nothing has been built and nothing has been written. Errors of the caller (a path that does not
    exist: ``OSError``; an unknown limit keyword: ``TypeError``) keep their usual types.
    """
