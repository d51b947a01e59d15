"""Training losses: a registry of named terms combined into weighted sums from the configuration.

Importing this package registers the built-in terms; see :mod:`segpipe.losses.registry` for the
term interface and :func:`build_loss` for turning a ``losses.<name>`` definition into a loss.
"""

from segpipe.losses import region  # noqa: F401  (registers dicece, dice, ce)
from segpipe.losses.registry import (
    CompositeLoss,
    LossTerm,
    Progress,
    TermContext,
    build_loss,
    register_term,
    term_names,
)

__all__ = ["CompositeLoss", "LossTerm", "Progress", "TermContext", "build_loss", "register_term", "term_names"]
