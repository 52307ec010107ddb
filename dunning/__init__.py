"""dunning: find overdue subscription and installment payments and remind the customers."""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("dunning")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0"
