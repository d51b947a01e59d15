"""Per-case segmentation metrics, by name.

Importing this package registers the built-in metrics:

- overlap (:mod:`~segpipe.evaluation.metrics.overlap`): ``dice``, ``cldice``;
- surface distances (:mod:`~segpipe.evaluation.metrics.distance`): ``hd95``, ``assd``, ``nsd``;
- topology of the masks (:mod:`~segpipe.evaluation.metrics.betti`): ``betti``, ``betti_numbers``,
  ``local_betti``, ``betti_matching``;
- persistence diagrams of the probability map (:mod:`~segpipe.evaluation.metrics.diagrams`):
  ``diagram_distances``.

See :mod:`segpipe.evaluation.metrics.registry` for adding more.
"""

from segpipe.evaluation.metrics import betti, diagrams, distance, overlap  # noqa: F401  (register the built-in metrics)
from segpipe.evaluation.metrics.registry import (
    CaseInputs,
    Metric,
    compute_metrics,
    get_metric,
    metric_names,
    metric_of_column,
    register_metric,
    split_class_column,
)
from segpipe.evaluation.metrics.settings import MetricSettings

__all__ = [
    "CaseInputs",
    "Metric",
    "MetricSettings",
    "compute_metrics",
    "get_metric",
    "metric_names",
    "metric_of_column",
    "register_metric",
    "split_class_column",
]
