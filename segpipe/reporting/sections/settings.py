"""Report sections of every profile: the configuration and the software versions used."""

from __future__ import annotations

import yaml

from segpipe.reporting import html
from segpipe.reporting.context import ReportContext
from segpipe.reporting.registry import register_section


@register_section("Configuration", order=90, profiles=("segmentation", "decode"))
def configuration(context: ReportContext) -> str:
    """The validated configuration, defaults filled in."""
    return html.preformatted(yaml.safe_dump(dict(context.config), sort_keys=False))


@register_section("Software", order=100, profiles=("segmentation", "decode"))
def software(context: ReportContext) -> str:
    """Python and the versions of the libraries that computed the results."""
    return html.table(html.software_versions())
