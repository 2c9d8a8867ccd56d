"""Solvers on the fused objective kernels (closed form, L-BFGS, Newton, GD, SGD/Adam, coordinate descent)."""
