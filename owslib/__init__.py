"""owslib: open-world semantic segmentation study toolkit."""

__version__ = "0.1.0"
