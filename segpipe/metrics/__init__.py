"""Per-case segmentation metrics, by name.

Importing this package registers the built-in metrics (``dice``, ``hd95``, ``betti``); see
:mod:`segpipe.metrics.registry` for adding more.
"""

from segpipe.metrics import distance, overlap, topology  # noqa: F401  (register the built-in metrics)
from segpipe.metrics.registry import CaseInputs, Metric, compute_metrics, get_metric, metric_names, register_metric

__all__ = ["CaseInputs", "Metric", "compute_metrics", "get_metric", "metric_names", "register_metric"]
