"""segpipe: topology-aware medical image segmentation, from raw files to an evaluation report."""

__version__ = "0.1.0"
