"""Class-label helpers of the classifiers: the counting fast path agrees with numpy's sort-based
unique/searchsorted, and the checks scikit-learn applies to classification targets still apply."""
import numpy as np
import pytest
from sklearn.utils.multiclass import check_classification_targets

from fastml.linear_model._base import SMALL_LABEL_RANGE, encode_labels, fit_classes, labels_among


@pytest.mark.parametrize("labels", [
    np.array([3, 1, 1, 7, 3, 3]),
    np.array([-5, 2, -5, 0], dtype=np.int8),
    np.array([200, 3, 255], dtype=np.uint8),
    np.array([True, False, True]),
    np.array([0, SMALL_LABEL_RANGE + 10, 5]),  # too wide a range: the sort-based path
    np.array([2**62, -(2**62), 0]),
    np.array(["spam", "ham", "spam"]),
    np.array([0.0, 1.0, 1.0]),
    np.array([-3.0, 2.0, 7.0], dtype=np.float32),
    np.array([-0.0, 1.0, 4.0]),
    np.array([0.0, 1.0, 2.0**60]),  # whole numbers, too wide a range
    np.array([0.0, 1.0, 1e30]),  # beyond int64: scikit-learn calls it continuous
    np.array([0.0, 0.5, 1.0]),  # continuous
])
def test_classes_and_indices_match_numpy(labels):
    rng = np.random.default_rng(0)
    y = rng.choice(labels, size=500)
    try:
        check_classification_targets(y)  # the reference: scikit-learn's own check
    except ValueError:
        with pytest.raises(ValueError, match="Unknown label type"):
            fit_classes(y)
        classes = np.unique(y)  # classes given by the caller (SGD partial_fit): indices still match
        np.testing.assert_array_equal(encode_labels(classes, y), np.searchsorted(classes, y).astype(np.float64))
        return
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


def test_float_labels_against_integral_or_fractional_classes():
    y = np.array([0.0, 2.0, 2.0, 5.0])
    np.testing.assert_array_equal(encode_labels(np.array([0.0, 2.0, 5.0]), y), [0, 1, 1, 2])
    np.testing.assert_array_equal(encode_labels(np.array([0, 2, 5]), y), [0, 1, 1, 2])
    np.testing.assert_array_equal(encode_labels(np.array([0.0, 1.5, 2.0, 5.0]), y), [0, 2, 2, 3])
    with pytest.raises(ValueError, match="labels not in classes_"):
        encode_labels(np.array([0.0, 2.0]), y)


def test_continuous_or_multioutput_target_is_refused():
    with pytest.raises(ValueError, match="Unknown label type"):
        fit_classes(np.array([0.5, 1.25, 3.0]))
    with pytest.raises(ValueError, match="Unknown label type"):
        fit_classes(np.array([[0.5, 1.0], [2.0, 3.0]]))


@pytest.mark.parametrize("labels, classes", [
    (np.array([0, 1]), np.array([0, 1, 2])),
    (np.array([0, 3]), np.array([0, 1, 2])),
    (np.array([1.0, 2.0]), np.array([0, 1, 2])),  # by value, as np.isin
    (np.array([True]), np.array([0, 1])),
    (np.array(["ham", "spam"]), np.array(["ham", "spam"])),
    (np.array(["eggs"]), np.array(["ham", "spam"])),
    (np.array(["1"]), np.array([0, 1])),  # a string is not the number
    (np.array([np.nan]), np.array([0.0, 1.0])),
    (np.arange(100), np.arange(200)),  # many labels: numpy's path
    (np.arange(100) * 3, np.arange(200)),
])
def test_labels_among_is_numpy_isin(labels, classes):
    assert labels_among(labels, classes) == bool(np.all(np.isin(labels, classes)))
