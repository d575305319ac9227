"""splatsynth: sparse calibrated views -> Gaussian splatting fit -> a dense multi-view dataset.

Importing the package is cheap: no numba kernel is compiled and no optional backend is loaded
until a function that needs it runs.
"""

__version__ = "0.1.0"
