"""polars frames work like pandas frames: feature names kept and checked, float32 kept, same results."""
import numpy as np
import pytest

import fastml

pl = pytest.importorskip("polars")


def _frame(X, names):
    return pl.DataFrame({name: X[:, j] for j, name in enumerate(names)})


@pytest.mark.parametrize("name", ["LinearRegression", "Ridge", "Lasso", "LogisticRegression", "SGDClassifier",
                                  "PoissonRegressor"])
def test_polars_frame_fits_like_numpy(name):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 4))
    y = (X[:, 0] > 0).astype(int) if name in ("LogisticRegression", "SGDClassifier") else np.exp(0.3 * X[:, 0])
    names = ["a", "b", "c", "d"]
    params = {"random_state": 0} if name == "SGDClassifier" else {}
    on_frame = getattr(fastml, name)(**params).fit(_frame(X, names), y)
    on_array = getattr(fastml, name)(**params).fit(X, y)
    assert list(on_frame.feature_names_in_) == names
    # polars hands over an F-ordered array: the same model up to the summation order of the kernels
    np.testing.assert_allclose(on_frame.coef_, on_array.coef_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(on_frame.predict(_frame(X, names)), on_array.predict(X), rtol=1e-9, atol=1e-12)
    with pytest.raises(ValueError, match="feature names"):
        on_frame.predict(_frame(X, ["a", "b", "d", "c"]))


def test_polars_float32_frame_keeps_float32():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((100, 3)).astype(np.float32)
    frame = pl.DataFrame({f"x{j}": X[:, j] for j in range(3)})
    model = fastml.Ridge().fit(frame, X[:, 0].astype(np.float64))
    assert model.coef_.dtype == np.float32
    assert model.predict(frame).dtype == np.float32
