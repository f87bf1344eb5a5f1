"""truenorth: a customer-value rules engine."""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("truenorth")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0"
