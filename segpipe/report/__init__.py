"""The HTML report: aggregation of per-case metrics, plots, and a self-contained HTML page.

- :mod:`segpipe.report.aggregation`: read metrics CSVs, per-run summary tables.
- :mod:`segpipe.report.statistics`: seed means, bootstrap intervals, paired permutation tests, Holm.
- :mod:`segpipe.report.plots`, :mod:`segpipe.report.topology_plots`: matplotlib figures as PNG bytes.
- :mod:`segpipe.report.html`: HTML building blocks (sections, tables, inline images).
- :mod:`segpipe.report.context`: :class:`ReportContext`, what sections see.
- :mod:`segpipe.report.registry`: :func:`register_section` (other stages add sections this way).
- :mod:`segpipe.report.sections`: the built-in sections.
- :mod:`segpipe.report.build`: :func:`build_report`, which renders every registered section.
"""

from segpipe.report.build import build_report
from segpipe.report.context import ReportContext
from segpipe.report.registry import register_section

__all__ = ["ReportContext", "build_report", "register_section"]
