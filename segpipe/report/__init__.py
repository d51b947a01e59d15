"""The HTML report: aggregation of per-case metrics, plots, and a self-contained HTML page.

- :mod:`segpipe.report.aggregation`: read metrics CSVs, summary tables.
- :mod:`segpipe.report.plots`: matplotlib figures as PNG bytes.
- :mod:`segpipe.report.html`: HTML building blocks (sections, tables, inline images).
- :mod:`segpipe.report.build`: :func:`build_report`, which assembles the sections.
"""

from segpipe.report.build import build_report

__all__ = ["build_report"]
