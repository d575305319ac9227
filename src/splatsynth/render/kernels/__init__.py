"""numba kernels of the CPU rasterizer: arrays in, arrays out (numpy, numba only).

Importing this package compiles nothing: every kernel compiles on its first call (and is cached
on disk with ``cache=True``).
"""
