"""Report sections: the configuration and the software versions used."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from segpipe.reporting import html
from segpipe.reporting.context import ReportContext
from segpipe.reporting.registry import register_section


def closing_sections(config: Mapping[str, Any]) -> list[html.Section]:
    """The last sections of every report: the configuration used and the software versions.

    Parameters
    ----------
    config
        Validated configuration, defaults filled in.

    Returns
    -------
    list of html.Section
        "Configuration" and "Software".
    """
    return [
        html.Section("Configuration", html.preformatted(yaml.safe_dump(dict(config), sort_keys=False))),
        html.Section("Software", html.table(html.software_versions())),
    ]


@register_section("Configuration", order=90)
def configuration(context: ReportContext) -> str:
    """The validated configuration, defaults filled in."""
    return closing_sections(context.config)[0].body


@register_section("Software", order=100)
def software(context: ReportContext) -> str:
    """Python and the versions of the libraries that computed the results."""
    return html.table(html.software_versions())
