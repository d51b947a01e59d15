"""The HTML report: aggregation of per-case metrics, plots, and a self-contained HTML page.

- :mod:`segpipe.reporting.aggregation`: read metrics CSVs, per-run summary tables.
- :mod:`segpipe.reporting.statistics`: seed means, bootstrap intervals, paired permutation tests, Holm.
- :mod:`segpipe.reporting.plots`, :mod:`segpipe.reporting.topology_plots`: matplotlib figures as PNG bytes.
- :mod:`segpipe.reporting.html`: HTML building blocks (sections, tables, inline images).
- :mod:`segpipe.reporting.context`: :class:`ReportContext`, what sections see.
- :mod:`segpipe.reporting.registry`: :func:`register_section` (other stages add sections this way).
- :mod:`segpipe.reporting.sections`: the built-in sections.
- :mod:`segpipe.reporting.build`: :func:`build_report`, which renders every registered section.
"""

from segpipe.reporting.build import build_report
from segpipe.reporting.context import ReportContext
from segpipe.reporting.registry import register_section

__all__ = ["ReportContext", "build_report", "register_section"]
