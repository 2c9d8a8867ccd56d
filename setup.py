"""Declares the Cython extensions; everything else lives in pyproject.toml.

The extensions are compiled with OpenMP so their ``prange`` loops run on several threads.
``kernels/`` is installed as ``fastml.kernels`` (see ``[tool.setuptools.package-dir]``), so the
extension names carry that prefix while their sources stay under ``kernels/``.
"""
import sys

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

if sys.platform == "win32":
    openmp_compile, openmp_link = ["/openmp"], []
elif sys.platform == "darwin":
    openmp_compile, openmp_link = [], []  # Apple clang ships no OpenMP; prange runs serially
else:
    openmp_compile, openmp_link = ["-fopenmp"], ["-fopenmp"]


def cython_extension(name):
    return Extension(
        f"fastml.kernels.{name}",
        [f"kernels/{name}.pyx"],
        include_dirs=[np.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=["-O3", *openmp_compile],
        extra_link_args=openmp_link,
    )


setup(
    ext_modules=cythonize(
        [cython_extension("_sparse"), cython_extension("_cd")],
        language_level=3,
        compiler_directives={
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
        },
    ),
)
