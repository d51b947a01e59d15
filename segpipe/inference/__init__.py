"""Inference: sliding-window probabilities, ``segpipe predict``, the predictions directory format,
HybridGNet decoding (``segpipe decode``) and the real-photo step (``segpipe photo``)."""
