"""Fixtures of the solver tests; the problem generators and references live in solver_problems.py."""
import numpy as np
import pytest


@pytest.fixture(params=["dense", "csr"])
def storage(request):
    return request.param


@pytest.fixture(params=[np.float64, np.float32], ids=["float64", "float32"])
def dtype(request):
    return request.param
