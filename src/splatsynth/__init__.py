"""splatsynth: sparse calibrated views -> Gaussian splatting fit -> a dense multi-view dataset.

Importing the package is cheap: no numba kernel is compiled and no optional backend is loaded
until a function that needs it runs. It does set where the compiled kernels are cached
(:mod:`splatsynth.kernel_cache`), before numba is imported.
"""

from .kernel_cache import configure_kernel_cache as _configure_kernel_cache

__version__ = "0.1.0"

_configure_kernel_cache()
