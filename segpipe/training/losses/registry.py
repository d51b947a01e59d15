"""Loss terms by name, and the weighted sum that the configuration defines.

A loss definition in the configuration is a list of weighted terms::

    losses:
      cldice_mix:
        terms:
          - {name: dice_ce, weight: 1.0}
          - {name: cldice, weight: 0.5, iterations: 10}   # extra keys are the term's options
          - {name: betti_matching, weight: {start: 0.0, end: 0.1, until: 0.5}}   # a scheduled weight

A weight is a non-negative number or a schedule of training progress
(:mod:`segpipe.training.losses.schedules`). Each term is a :class:`LossTerm` subclass registered with :func:`register_term`. A term

- is built as ``Term(context, **options)``; ``context`` (:class:`TermContext`) says whether the
  network ends in a sigmoid or a softmax, the dimension, the label type and the dataset fingerprint;
  it checks its option values with :mod:`segpipe.training.losses.options` (errors name the option);
- computes its value in :meth:`LossTerm.forward` from the logits, the batch dictionary and the
  training :class:`Progress`;
- may need more than image and label. It names the batch keys it reads in :attr:`LossTerm.requires`
  and produces them on the CPU, in the data loader, through two hooks:
  :meth:`LossTerm.case_extras` (arrays on the whole case grid, computed once per case and then
  cropped, padded, flipped and rotated together with image and label: e.g. distance maps, or a
  label projection broadcast along its axis) and :meth:`LossTerm.sample_extras` (arrays computed
  from each augmented training sample: e.g. a skeleton tube of the cropped label).

:class:`CompositeLoss` sums the weighted terms and reports each term's value for the training log; a
term whose scheduled weight is still zero is not computed (its log value is NaN).

Multi-class runs (``TermContext.classes``, :mod:`segpipe.datasets.classes`): the logits have the
background's channel and one per class, the label holds class values. A term says how it handles
them in :attr:`LossTerm.class_handling`: the region terms take the class channels themselves
(``"native"``: Dice over the classes, cross-entropy over all channels); every other term is binary,
and :func:`build_loss` wraps it in :class:`OneVsRestTerm`, which computes it once per class on that
class against the rest and averages over the classes (``"one_vs_rest"``, the default); a term that
cannot be computed so (``"unsupported"``) is a configuration error.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import numpy as np
import torch

from segpipe.datasets.cases import PreprocessedCase
from segpipe.errors import ConfigError
from segpipe.networks.factory import one_vs_rest_logits
from segpipe.topology.connectivity import DEFAULT_CONNECTIVITY
from segpipe.training.losses.options import OptionError
from segpipe.training.losses.schedules import Progress, weight_schedule
from segpipe.utilities.registry import Registry

#: Batch keys every batch has: ``image`` (B, C, *spatial) and ``label`` (B, 1, *spatial) in {0, 1} (class
#: values 0..K in a multi-class run).
BASE_KEYS = ("image", "label")


@dataclass(frozen=True)
class TermContext:
    """Facts about the run that a term may need when it is built.

    Attributes
    ----------
    output
        ``"sigmoid"``: logits have one channel (foreground); ``"softmax"``: two channels
        (background, foreground). :func:`segpipe.networks.factory.foreground_probability` turns
        either into foreground probabilities.
    dimensions
        Number of spatial dimensions (2 or 3).
    label_type
        Label type the run trains on (``"accurate"``, ``"noisy"``, ``"pseudo"``).
    fingerprint
        The dataset fingerprint written by ``segpipe preprocess`` (e.g. the largest structure
        radius, which sizes clDice's soft skeleton); empty when unknown.
    connectivity
        The configuration's ``connectivity`` (``"full"`` or ``"face"``), which the metrics count:
        the default of every topology term (:mod:`segpipe.topology.connectivity`).
    classes
        Foreground class names of a multi-class run (softmax logits with one more channel);
        empty for a binary run.
    """

    output: str
    dimensions: int
    label_type: str
    fingerprint: Mapping[str, Any] = field(default_factory=dict)
    connectivity: str = DEFAULT_CONNECTIVITY
    classes: tuple[str, ...] = ()


class LossTerm(torch.nn.Module):
    """Base class of loss terms.

    Subclasses set :attr:`name`, accept ``(context, **options)`` in ``__init__`` (options are
    keyword arguments with defaults: unknown option keys in the configuration are reported with the
    allowed ones) and implement :meth:`forward`.
    """

    #: Registered name, used in the configuration and as the column of the training log.
    name: ClassVar[str] = ""
    #: Batch keys beyond ``image`` and ``label`` that :meth:`forward` reads.
    requires: ClassVar[tuple[str, ...]] = ()
    #: How the term handles a multi-class run: ``"native"`` (it takes the class channels and the
    #: label of class values), ``"one_vs_rest"`` (it is binary: :class:`OneVsRestTerm` computes it per
    #: class) or ``"unsupported"``.
    class_handling: ClassVar[str] = "one_vs_rest"

    def __init__(self, context: TermContext) -> None:
        super().__init__()
        self.context = context

    def case_extras(self, case: PreprocessedCase, label: np.ndarray) -> dict[str, np.ndarray]:
        """Arrays on the whole case grid, computed once per training case on the CPU.

        Each array has shape ``(*spatial)`` or ``(C, *spatial)``; the data loader crops, pads,
        flips and rotates it exactly like the label and delivers it as ``batch[key]`` of shape
        ``(B, C, *patch)``. Precomputed per-case arrays from preprocessing are in ``case.extras``.

        Parameters
        ----------
        case
            The preprocessed case (image, every label type, geometry, extras).
        label
            The label the run trains on, ``(*spatial)`` in {0, 1}.
        """
        return {}

    def sample_extras(self, sample: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Arrays computed from one augmented training sample on the CPU, in the data loader.

        Parameters
        ----------
        sample
            ``image`` ``(C, *patch)``, ``label`` ``(1, *patch)`` and the case extras, as NumPy arrays.

        Returns
        -------
        dict
            Arrays of equal shape for every sample; stacked into ``batch[key]`` as ``(B, ...)``.
        """
        return {}

    def forward(self, logits: torch.Tensor, batch: Mapping[str, torch.Tensor], progress: Progress) -> torch.Tensor:
        """Return the term's scalar value for a batch.

        Parameters
        ----------
        logits
            Network output ``(B, 1 or 2, *patch)``.
        batch
            ``image``, ``label`` ``(B, 1, *patch)`` float in {0, 1}, and the keys of :attr:`requires`.
        progress
            Current iteration and total iterations.
        """
        raise NotImplementedError


def _class_key(key: str, index: int) -> str:
    """Batch key of a binary term's extra ``key`` for class ``index`` (:class:`OneVsRestTerm`)."""
    return f"{key}@{index}"


def _of_class(arrays: Mapping[str, Any], index: int) -> dict[str, Any]:
    """The extras of class ``index`` in ``arrays``, under the keys their term gave them."""
    own = {}
    for key, value in arrays.items():
        base, at, tail = key.rpartition("@")
        if at and tail == str(index):
            own[base] = value
    return own


class OneVsRestTerm(LossTerm):
    """A binary term in a multi-class run: the mean over the foreground classes of the term on each class against the rest.

    For class ``k`` the wrapped term sees the two-channel logits of ``k`` against every other class
    (:func:`segpipe.networks.factory.one_vs_rest_logits`: their softmax is exactly class ``k``'s
    probability and its complement), the label ``label == k``, and its extras computed from that
    label; they travel in the batch under the term's keys suffixed ``@k``.

    Parameters
    ----------
    term
        The binary term, built for a binary softmax run.
    classes
        The run's foreground classes (values 1..K).
    """

    def __init__(self, term: LossTerm, classes: tuple[str, ...]) -> None:
        super().__init__(term.context)
        self.term = term
        self.indices = range(1, len(classes) + 1)

    @property
    def requires(self) -> tuple[str, ...]:  # type: ignore[override]
        """The wrapped term's batch keys, once per class."""
        return tuple(_class_key(key, k) for k in self.indices for key in self.term.requires)

    def case_extras(self, case: PreprocessedCase, label: np.ndarray) -> dict[str, np.ndarray]:
        """The wrapped term's case extras of each class's one-vs-rest label."""
        extras: dict[str, np.ndarray] = {}
        for k in self.indices:
            own = self.term.case_extras(case, (np.asarray(label) == k).astype(np.uint8))
            extras.update({_class_key(key, k): value for key, value in own.items()})
        return extras

    def sample_extras(self, sample: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The wrapped term's sample extras of each class's one-vs-rest sample."""
        extras: dict[str, np.ndarray] = {}
        for k in self.indices:
            view = {**sample, "label": (sample["label"] == k).astype(sample["label"].dtype), **_of_class(sample, k)}
            extras.update({_class_key(key, k): value for key, value in self.term.sample_extras(view).items()})
        return extras

    def forward(self, logits: torch.Tensor, batch: Mapping[str, torch.Tensor], progress: Progress) -> torch.Tensor:
        """Mean over the classes of the wrapped term on each class against the rest."""
        values = []
        for k in self.indices:
            view = {**batch, "label": (batch["label"] == k).to(batch["label"].dtype), **_of_class(batch, k)}
            values.append(self.term(one_vs_rest_logits(logits, k), view, progress))
        return torch.stack(values).mean()


#: Every loss term, by the name that loss definitions give it (``losses.<loss>.terms[].name``).
TERMS: Registry[type[LossTerm]] = Registry("loss term", key="losses.<loss>.terms[].name")


def register_term(cls: type[LossTerm]) -> type[LossTerm]:
    """Class decorator: make ``cls`` available under ``cls.name`` in loss definitions."""
    if not cls.name:
        raise ValueError(f"{cls.__qualname__} must set a non-empty 'name'")
    return TERMS.register(cls.name)(cls)


def term_names() -> list[str]:
    """Names of all registered terms."""
    return TERMS.names()


def term_options(name: str) -> dict[str, Any]:
    """The options of term ``name`` with their defaults."""
    parameters = list(inspect.signature(TERMS.get(name).__init__).parameters.values())[2:]  # skip self, context
    return {p.name: p.default for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY}


@dataclass
class LossResult:
    """The value of a :class:`CompositeLoss` on one batch.

    Attributes
    ----------
    total
        Weighted sum, differentiable.
    terms
        Unweighted value of each term (detached floats), keyed like :attr:`CompositeLoss.keys`.
    weights
        Weight applied to each term at this progress.
    """

    total: torch.Tensor
    terms: dict[str, float]
    weights: dict[str, float]


class CompositeLoss(torch.nn.Module):
    """Weighted sum of loss terms.

    Parameters
    ----------
    terms
        ``(key, term, weight)`` triples; ``key`` names the term in logs (the term's name, with a
        ``_2``, ``_3``... suffix when a name repeats).
    """

    def __init__(self, terms: list[tuple[str, LossTerm, Callable[[Progress], float]]]) -> None:
        super().__init__()
        if not terms:
            raise ValueError("a loss needs at least one term")
        self.terms = torch.nn.ModuleDict({key: term for key, term, _ in terms})
        self._weights = {key: weight for key, _, weight in terms}

    @property
    def keys(self) -> list[str]:
        """Log keys of the terms, in configuration order."""
        return list(self.terms)

    @property
    def requires(self) -> set[str]:
        """Batch keys the terms read beyond image and label."""
        return {key for term in self.terms.values() for key in term.requires}

    def case_extras(self, case: PreprocessedCase, label: np.ndarray) -> dict[str, np.ndarray]:
        """Union of the terms' :meth:`LossTerm.case_extras`."""
        extras: dict[str, np.ndarray] = {}
        for term in self.terms.values():
            extras.update(term.case_extras(case, label))
        return extras

    def sample_extras(self, sample: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Union of the terms' :meth:`LossTerm.sample_extras`."""
        extras: dict[str, np.ndarray] = {}
        for term in self.terms.values():
            extras.update(term.sample_extras(sample))
        return extras

    def forward(self, logits: torch.Tensor, batch: Mapping[str, torch.Tensor], progress: Progress) -> LossResult:
        """Evaluate every term whose weight is not zero at ``progress``, and their weighted sum."""
        total = logits.new_zeros(())
        values: dict[str, float] = {}
        weights: dict[str, float] = {}
        for key, term in self.terms.items():
            weight = self._weights[key](progress)
            weights[key] = weight
            if not weight:  # a scheduled term before its start costs nothing; logged as NaN (not computed)
                values[key] = math.nan
                continue
            value = term(logits, batch, progress)
            total = total + weight * value
            values[key] = float(value.detach())
        return LossResult(total, values, weights)


def build_loss(name: str, losses: Mapping[str, Any], context: TermContext) -> CompositeLoss:
    """Build the loss ``losses[name]`` (the ``losses`` section of the configuration).

    Parameters
    ----------
    name
        Loss name (the first part of a run identifier).
    losses
        Loss definitions: name to ``{"terms": [{"name": ..., "weight": ..., **options}, ...]}``.
    context
        Facts about the run passed to every term.

    Raises
    ------
    ConfigError
        If the loss or a term is not defined, a term is given options it does not have or a bad
        option value (the message names the key), a weight is neither a non-negative number
        nor a valid schedule (:mod:`segpipe.training.losses.schedules`), or a multi-class run
        uses a term that cannot be computed per class.

    Notes
    -----
    In a multi-class run (``context.classes``) every binary term is built for a binary softmax run
    and wrapped in :class:`OneVsRestTerm`.
    """
    if name not in losses:
        raise ConfigError(
            f"loss {name!r} is not defined under 'losses'",
            fix=f"define it, or use one of: {', '.join(sorted(losses)) or '(none)'}",
        )
    built: list[tuple[str, LossTerm, Callable[[Progress], float]]] = []
    seen: dict[str, int] = {}
    for index, spec in enumerate(losses[name]["terms"]):
        where = f"losses.{name}.terms[{index}]"
        spec = dict(spec)
        term_name = spec.pop("name")
        if term_name not in TERMS:
            raise ConfigError(f"'{where}.name' is {term_name!r}; registered terms: {', '.join(term_names())}")
        weight = weight_schedule(spec.pop("weight", 1.0), where=where)
        allowed = term_options(term_name)
        unknown = sorted(set(spec) - set(allowed))
        if unknown:
            raise ConfigError(
                f"'{where}' has unknown option(s) {', '.join(map(repr, unknown))} for term {term_name!r}",
                fix=f"allowed options: {', '.join(sorted(allowed)) or '(none)'}",
            )
        kind = TERMS.get(term_name)
        one_vs_rest = bool(context.classes) and kind.class_handling != "native"
        if context.classes and kind.class_handling == "unsupported":
            raise ConfigError(
                f"'{where}.name' is {term_name!r}, which cannot be computed per class, but the data set has the "
                f"classes {', '.join(context.classes)} ('preprocess.label_policy: classes')",
                fix="drop the term from the loss, or set 'preprocess.label_policy' to strict or binarise",
            )
        try:
            term = kind(replace(context, classes=()) if one_vs_rest else context, **spec)
        except OptionError as error:
            raise ConfigError(f"'{where}.{error.option}' {error.problem}", fix=error.fix) from error
        if one_vs_rest:
            term = OneVsRestTerm(term, context.classes)
        seen[term_name] = seen.get(term_name, 0) + 1
        key = term_name if seen[term_name] == 1 else f"{term_name}_{seen[term_name]}"
        built.append((key, term, weight))
    return CompositeLoss(built)
