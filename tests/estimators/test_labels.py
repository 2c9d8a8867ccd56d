"""Class-label helpers of the classifiers: the counting fast path agrees with numpy's sort-based
unique/searchsorted, and the checks scikit-learn applies to classification targets still apply."""
import numpy as np
import pytest

from fastml.linear_model._base import SMALL_LABEL_RANGE, encode_labels, fit_classes


@pytest.mark.parametrize("labels", [
    np.array([3, 1, 1, 7, 3, 3]),
    np.array([-5, 2, -5, 0], dtype=np.int8),
    np.array([200, 3, 255], dtype=np.uint8),
    np.array([True, False, True]),
    np.array([0, SMALL_LABEL_RANGE + 10, 5]),  # too wide a range: the sort-based path
    np.array([2**62, -(2**62), 0]),
    np.array(["spam", "ham", "spam"]),
    np.array([0.0, 1.0, 1.0]),
])
def test_classes_and_indices_match_numpy(labels):
    rng = np.random.default_rng(0)
    y = rng.choice(labels, size=500)
    classes = fit_classes(y)
    np.testing.assert_array_equal(classes, np.unique(y))
    assert classes.dtype == np.unique(y).dtype
    indices = encode_labels(classes, y)
    assert indices.dtype == np.float64
    np.testing.assert_array_equal(indices, np.searchsorted(classes, y).astype(np.float64))


@pytest.mark.parametrize("unseen", [9, -1, 4])
def test_unseen_label_is_named(unseen):
    classes = fit_classes(np.array([0, 3, 8, 3]))
    with pytest.raises(ValueError, match=rf"labels not in classes_ \[0, 3, 8\]: \[{unseen}\]"):
        encode_labels(classes, np.array([0, unseen, 8]))


def test_continuous_or_multioutput_target_is_refused():
    with pytest.raises(ValueError, match="Unknown label type"):
        fit_classes(np.array([0.5, 1.25, 3.0]))
    with pytest.raises(ValueError, match="Unknown label type"):
        fit_classes(np.array([[0.5, 1.0], [2.0, 3.0]]))
