"""The package version (``cnncourse.__version__``), kept in sync with ``pyproject.toml`` by a test.

The run banner (``runtime.setup``, every notebook) and ``cnncourse bench`` records print it; a module of its
own so that they need not import the package they belong to.
"""
__version__ = "0.1.0"
