"""The input-validation error an estimator owes: scikit-learn's, as ``validate_data`` raises it."""
import pytest
from sklearn.utils import check_array


def check_array_error(estimator, X):
    """The ``ValueError`` message ``validate_data`` (``check_array``) gives for this estimator and ``X``."""
    with pytest.raises(ValueError) as raised:
        check_array(X, accept_sparse="csr", estimator=estimator, input_name="X")
    return str(raised.value)


def assert_raises_validation_error(method, estimator, X, *args, **kwargs):
    """``method(X, *args, **kwargs)`` (``estimator.fit``, ``partial_fit``) raises that error, word for word."""
    expected = check_array_error(estimator, X)
    with pytest.raises(ValueError) as raised:
        method(X, *args, **kwargs)
    assert str(raised.value) == expected
