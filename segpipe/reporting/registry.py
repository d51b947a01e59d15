"""Report sections, by registration, grouped into report profiles.

A section is a function of the :class:`~segpipe.reporting.context.ReportContext` returning the HTML
body of the section, or ``None`` to leave the section out (e.g. when its inputs were not given)::

    from segpipe.reporting import html
    from segpipe.reporting.registry import register_section

    @register_section("Landmark decoding", order=65)
    def decoding(context):
        paths = context.inputs.get("decode")      # `segpipe report --input decode=DIR`
        if not paths:
            return None
        return html.paragraph(...)

Sections live in :data:`SECTIONS` (the registry pattern of loss terms and metrics,
:class:`segpipe.utilities.registry.Registry`), under a snake_case name derived from the title
unless one is given. A *profile* is the set of sections a kind of report shows: ``segmentation``
(the report of ``segpipe report``) and ``decode`` (HybridGNet against a segmentation network,
``segpipe report --profile decode``); a section belongs to the profiles it is registered for. The
module defining a section must be imported before the report is built (built-in sections are
imported by :mod:`segpipe.reporting.sections`). Sections appear in ascending ``order``; the
built-in ones use multiples of 10 (see :mod:`segpipe.reporting.sections`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from segpipe.errors import ConfigError
from segpipe.reporting.context import ReportContext
from segpipe.utilities.registry import Registry

SectionFunction = Callable[[ReportContext], "str | None"]
#: Report profiles and their titles.
PROFILES = {"segmentation": "segpipe report", "decode": "segpipe decode report: HybridGNet vs segmentation"}


@dataclass(frozen=True)
class RegisteredSection:
    """A registered report section."""

    name: str
    title: str
    order: float
    function: SectionFunction
    profiles: tuple[str, ...]


#: Every registered section, by name.
SECTIONS: Registry[RegisteredSection] = Registry("report section")


def section_name(title: str) -> str:
    """The snake_case name of a section title (``"Metric definitions"`` -> ``metric_definitions``)."""
    return re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_")


def register_section(
    title: str, *, order: float, profiles: Sequence[str] = ("segmentation",), name: str | None = None,
) -> Callable[[SectionFunction], SectionFunction]:
    """Decorator: register ``function(context) -> str | None`` as the report section ``title``.

    Parameters
    ----------
    title
        Heading of the section.
    order
        Position in the report (ascending).
    profiles
        The report profiles (:data:`PROFILES`) that show it.
    name
        Registered name; default: :func:`section_name` of the title.

    Raises
    ------
    ValueError
        If a section with that name is already registered or a profile is unknown.
    """
    unknown = sorted(set(profiles) - set(PROFILES))
    if unknown:
        raise ValueError(f"unknown report profile(s) {unknown}; known: {sorted(PROFILES)}")

    def decorator(function: SectionFunction) -> SectionFunction:
        entry = RegisteredSection(name or section_name(title), title, order, function, tuple(profiles))
        SECTIONS.register(entry.name)(entry)
        return function

    return decorator


def registered_sections(profile: str = "segmentation") -> list[RegisteredSection]:
    """Every section of ``profile``, in report order.

    Raises
    ------
    ConfigError
        If the profile is unknown.
    """
    if profile not in PROFILES:
        raise ConfigError(f"unknown report profile {profile!r}", fix=f"use one of: {', '.join(PROFILES)}")
    chosen = [section for _, section in SECTIONS.items() if profile in section.profiles]
    return sorted(chosen, key=lambda section: (section.order, section.title))
