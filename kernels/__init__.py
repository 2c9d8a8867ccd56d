"""fastml's compiled kernels: public, low level, no validation.

Submodules (import them directly; nothing here imports Numba until a kernel is used):

* ``losses`` — point and row functions of every loss, selected by an integer id
  (``losses.SQUARED_ERROR``, ``losses.LOGISTIC``, ...); callable from your own ``@njit`` code.
* ``objective_dense`` / ``objective_csr`` — fused loss + gradient (``loss_grad_dense``,
  ``loss_grad_csr``), Hessian-vector products and raw predictions for K models in one pass over ``X``.
* ``pointwise`` — losses, gradients and Hessians over given raw predictions.
* ``gram`` — weighted Gram matrices ``X^T diag(h) X`` (BLAS syrk on row blocks, one thread per row
  chunk, for dense; Cython for CSR).
* ``lbfgs_loop`` — the whole L-BFGS loop of one model on a small ``X`` in one call (``lbfgs_single``).
* ``_sparse`` — Cython CSR matvec / rmatvec / Gram kernels.

Each kernel's docstring states its contract: dtypes, shapes, contiguity and which ``*_out`` arrays it
overwrites. Inputs must arrive validated: the Python layer (``fastml``) does that.
"""
