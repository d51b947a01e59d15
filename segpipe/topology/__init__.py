"""Persistent homology and Betti matching, backed by the C++ engine in ``cpp_ext/``."""

from segpipe.topology._engine import engine_version

__all__ = ["engine_version"]
