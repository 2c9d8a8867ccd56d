"""The demo lifecycle behind ``fastml demo``, as public functions.

``run_demo(case="tabular")``: scikit-learn's breast_cancer data (is the tumour malignant?) from task to
retraining; ``run_demo(case="spam")``: the same on a synthetic, drifting spam corpus
(:func:`make_spam_corpus`) with a hashing featurizer and a sparse model. ``run_bench``: the solver
comparison behind ``fastml bench``.
"""
from ._bench import run_bench
from ._corpus import make_spam_corpus

CASES = ("tabular", "spam")
DEFAULT_OUT_DIR = "fastml-demo-output"

__all__ = ["CASES", "DEFAULT_OUT_DIR", "make_spam_corpus", "run_bench", "run_demo"]


def run_demo(case="tabular", out_dir=None, quick=False, progress=None):
    """Run the demo lifecycle and return a JSON-ready summary.

    Parameters
    ----------
    case : {"tabular", "spam"}
        "tabular": breast_cancer (binary, malignant = positive class), dense float64.
        "spam": a generated corpus whose spam vocabulary shifts in later batches, HashingVectorizer
        features (CSR) feeding a sparse fastml LogisticRegression, judged by precision/recall.
    out_dir : str or path, default=None
        Folder for the artifacts (model file, HTML report, plots); default ``./fastml-demo-output``
        (``<out_dir>/<case>`` holds each case's files). Created when missing.
    quick : bool, default=False
        Fewer folds, solvers and rows: a few seconds once the kernels are compiled (used in CI).
    progress : callable, default=None
        Called with each human-readable line of the demo's narrative (e.g. ``print``).

    Returns
    -------
    dict
        Per step: ``task``, ``split``, ``models``, ``chosen``, ``cross_validation``, ``test_metrics``,
        ``threshold``, ``persistence`` (``reloaded_identical``), ``serving``, ``drift``
        (``control_detected``, ``detected``), ``retrain`` (old/new metrics, ``new_not_worse``),
        ``artifacts`` and ``seconds``.
    """
    import os

    if case not in CASES:
        raise ValueError(f"case must be one of {CASES}, got {case!r}")
    out_dir = os.path.join(os.fspath(out_dir or DEFAULT_OUT_DIR), case)
    os.makedirs(out_dir, exist_ok=True)
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    say = progress if progress is not None else (lambda line: None)
    with warnings.catch_warnings():
        # the demo's stochastic fits run a fixed, small number of epochs on purpose
        warnings.simplefilter("ignore", ConvergenceWarning)
        if case == "tabular":
            from ._tabular import run_tabular

            return run_tabular(out_dir, quick=quick, say=say)
        from ._spam import run_spam

        return run_spam(out_dir, quick=quick, say=say)
