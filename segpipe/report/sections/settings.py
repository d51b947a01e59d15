"""Report sections: the configuration and the software versions used."""

from __future__ import annotations

import yaml

from segpipe.report import html
from segpipe.report.context import ReportContext
from segpipe.report.registry import register_section


@register_section("Configuration", order=90)
def configuration(context: ReportContext) -> str:
    """The validated configuration, defaults filled in."""
    return html.preformatted(yaml.safe_dump(dict(context.config), sort_keys=False))


@register_section("Software", order=100)
def software(context: ReportContext) -> str:
    """Python and the versions of the libraries that computed the results."""
    return html.table(html.software_versions())
