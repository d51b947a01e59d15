"""Evaluation (``segpipe evaluate``): per-case metrics (:mod:`segpipe.evaluation.metrics`) computed in
worker processes, and the scoring of decoded landmarks."""
