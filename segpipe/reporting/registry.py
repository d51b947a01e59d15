"""Report sections, by registration: other stages add a section by registering a function.

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

The module defining it must be imported before the report is built (built-in sections are
imported by :mod:`segpipe.reporting.sections`). Sections appear in ascending ``order``; the
built-in ones use multiples of 10 (see :mod:`segpipe.reporting.sections`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from segpipe.reporting.context import ReportContext

SectionFunction = Callable[[ReportContext], "str | None"]


@dataclass(frozen=True)
class RegisteredSection:
    """A registered report section."""

    title: str
    order: float
    function: SectionFunction


_SECTIONS: dict[str, RegisteredSection] = {}


def register_section(title: str, *, order: float) -> Callable[[SectionFunction], SectionFunction]:
    """Decorator: register ``function(context) -> str | None`` as the report section ``title``.

    Raises
    ------
    ValueError
        If a section with that title is already registered.
    """

    def decorator(function: SectionFunction) -> SectionFunction:
        if title in _SECTIONS:
            raise ValueError(f"report section {title!r} is registered twice")
        _SECTIONS[title] = RegisteredSection(title, order, function)
        return function

    return decorator


def registered_sections() -> list[RegisteredSection]:
    """Every registered section, in report order."""
    return sorted(_SECTIONS.values(), key=lambda section: (section.order, section.title))
