"""HTML building blocks for a single self-contained report file (inline CSS, images as data URIs)."""

from __future__ import annotations

import base64
import html
import importlib.metadata
import platform
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pandas as pd

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 2em; }
table { border-collapse: collapse; font-size: .85em; margin: .5em 0; }
th, td { border: 1px solid #ddd; padding: .25em .6em; text-align: right; }
th { background: #f3f3f3; } td:first-child, th:first-child { text-align: left; }
img { max-width: 100%; } pre { background: #f7f7f7; padding: .8em; font-size: .8em; overflow-x: auto; }
.note { color: #555; font-size: .9em; }
.scroll { overflow-x: auto; } details { margin: .6em 0; } summary { cursor: pointer; font-weight: 600; }
figure { margin: 1em 0; } figcaption { color: #444; font-size: .85em; }
"""

#: Distributions whose versions the report lists.
DISTRIBUTIONS = ("segpipe", "torch", "monai", "numpy", "scipy", "scikit-image", "SimpleITK", "nibabel", "gudhi",
                 "POT", "pandas", "matplotlib", "tqdm", "snakemake")


@dataclass(frozen=True)
class Section:
    """One titled part of the report; ``body`` is HTML."""

    title: str
    body: str


def escape(text: object) -> str:
    """HTML-escape ``text``."""
    return html.escape(str(text))


def image(png: bytes, alt: str) -> str:
    """An ``<img>`` with the PNG embedded as a base64 data URI."""
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">'


def table(frame: pd.DataFrame) -> str:
    """A table of ``frame`` (cells escaped, no index), scrolling sideways when wide."""
    return f'<div class="scroll">{frame.to_html(index=False, escape=True, border=0, na_rep="")}</div>'


def details(summary: str, body: str) -> str:
    """A collapsed block: ``summary`` (escaped) shown, ``body`` (HTML) revealed on click."""
    return f"<details><summary>{escape(summary)}</summary>\n{body}\n</details>"


def figure(png: bytes, alt: str, caption: str) -> str:
    """An embedded image with an escaped caption below it."""
    return f"<figure>{image(png, alt)}<figcaption>{escape(caption)}</figcaption></figure>"


def number(value: float) -> str:
    """A value with three significant digits (one decimal from 100 on); ``n/a`` for NaN."""
    if value != value:  # NaN
        return "n/a"
    return f"{value:.1f}" if abs(value) >= 100 else f"{value:.3g}"


def paragraph(text: str, *, note: bool = False) -> str:
    """A paragraph of escaped text."""
    attributes = ' class="note"' if note else ""
    return f"<p{attributes}>{escape(text)}</p>"


def preformatted(text: str) -> str:
    """Escaped preformatted text."""
    return f"<pre>{escape(text)}</pre>"


def software_versions(distributions: Sequence[str] = DISTRIBUTIONS) -> pd.DataFrame:
    """Python and the installed versions of ``distributions`` ("not installed" when absent)."""
    rows = [{"software": "python", "version": platform.python_version()}]
    for name in distributions:
        try:
            version = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            version = "not installed"
        rows.append({"software": name, "version": version})
    return pd.DataFrame(rows)


def document(title: str, sections: Iterable[Section]) -> str:
    """The complete HTML page."""
    parts = [f"<h2>{escape(section.title)}</h2>\n{section.body}" for section in sections]
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n<h1>{escape(title)}</h1>\n"
        + "\n".join(parts)
        + "\n</body>\n</html>\n"
    )
