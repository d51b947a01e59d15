"""Statistics across runs: seed averaging, bootstrap confidence intervals, paired permutation tests.

The unit of analysis is the test case, as in TopoMortar:

1. A *configuration* is a run without its seed: (loss, label type, training set, framework). Each
   case's metric value is first averaged over the seeds of its configuration.
2. Means per configuration and test group come with a **percentile bootstrap** confidence interval
   (``scipy.stats.bootstrap``, resampling the test cases; ``statistics.bootstrap_samples``
   resamples at level ``statistics.confidence``). It needs two cases or more; when every case has
   the same value the interval is that value.
3. Every configuration is compared with the **baseline** configuration that differs only in its
   loss (``statistics.baseline_loss``, default ``dice_ce``) by a **paired permutation test** on the
   cases both have (``scipy.stats.permutation_test`` with ``permutation_type="samples"``: random
   swaps of the two values of a case, i.e. sign flips of the differences; exact enumeration when
   2^cases <= ``statistics.permutations``), two-sided, statistic = mean difference.
4. p-values are adjusted by **Holm's step-down method** within each family of one metric column
   and one test group (the configurations compared with their baselines there). Results are
   called better or worse only when the adjusted p-value is below 1 - ``confidence``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

#: The run-identifier fields that make a configuration (a run without its seed).
CONFIGURATION = ("model", "loss", "label_type", "training_set", "framework")


@dataclass(frozen=True)
class StatisticsSettings:
    """Settings of :mod:`segpipe.reporting.statistics` (``evaluate.statistics`` in the configuration)."""

    baseline_loss: str = "dice_ce"
    confidence: float = 0.95
    bootstrap_samples: int = 2000
    permutations: int = 10000
    seed: int = 0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> StatisticsSettings:
        """Settings from a validated configuration (defaults where the section is absent)."""
        return cls(**config.get("evaluate", {}).get("statistics", {}))

    @property
    def alpha(self) -> float:
        """Significance level of the tests: 1 - confidence."""
        return 1.0 - self.confidence


def seed_means(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Each case's values averaged over the seeds of its configuration.

    Returns
    -------
    pandas.DataFrame
        One row per configuration, test group and case: :data:`CONFIGURATION`, ``group``,
        ``case_id``, ``seeds`` (how many were averaged) and ``columns``.
    """
    keys = [*CONFIGURATION, "group", "case_id"]
    grouped = frame.groupby(keys, sort=True, dropna=False)
    means = grouped[list(columns)].mean()
    means.insert(0, "seeds", grouped["seed"].nunique())
    return means.reset_index()


def bootstrap_interval(values: np.ndarray, settings: StatisticsSettings, rng: np.random.Generator) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of the mean of ``values`` (NaN for fewer than two values)."""
    from scipy import stats

    values = np.asarray(values, dtype=np.float64)
    if len(values) < 2:
        return float("nan"), float("nan")
    if np.ptp(values) == 0:
        return float(values[0]), float(values[0])
    result = stats.bootstrap(
        (values,), np.mean, confidence_level=settings.confidence, n_resamples=settings.bootstrap_samples,
        method="percentile", vectorized=True, random_state=rng,
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def summarise(frame: pd.DataFrame, columns: Sequence[str], settings: StatisticsSettings) -> pd.DataFrame:
    """Mean and bootstrap confidence interval per configuration, test group and metric column.

    Parameters
    ----------
    frame
        Per-case metrics (rows of every run).
    columns
        Metric columns to summarise.
    settings
        Confidence level, resamples and seed.

    Returns
    -------
    pandas.DataFrame
        Long format: :data:`CONFIGURATION`, ``group``, ``metric``, ``cases``, ``seeds`` (the most
        averaged for a case), ``mean``, ``ci_low``, ``ci_high``.
    """
    rng = np.random.default_rng(settings.seed)
    rows = []
    for key, cases in seed_means(frame, columns).groupby([*CONFIGURATION, "group"], sort=True):
        for column in columns:
            values = cases[column].to_numpy(dtype=np.float64)
            low, high = bootstrap_interval(values, settings, rng)
            rows.append({**dict(zip([*CONFIGURATION, "group"], key)), "metric": column, "cases": len(values),
                         "seeds": int(cases["seeds"].max()), "mean": float(values.mean()), "ci_low": low, "ci_high": high})
    return pd.DataFrame(rows, columns=[*CONFIGURATION, "group", "metric", "cases", "seeds", "mean", "ci_low", "ci_high"])


def paired_permutation_p(differences: np.ndarray, permutations: int, rng: np.random.Generator) -> float:
    """Two-sided p-value of a paired permutation test that the mean of ``differences`` is 0.

    1 when every difference is 0 (nothing to test) or there is a single pair (its two sign flips have the
    same absolute mean, so the exact two-sided p-value is 1).
    """
    from scipy import stats

    differences = np.asarray(differences, dtype=np.float64)
    if not differences.any() or differences.size < 2:
        return 1.0
    result = stats.permutation_test(
        (differences, np.zeros_like(differences)), lambda x, y, axis: np.mean(x - y, axis=axis),
        permutation_type="samples", vectorized=True, n_resamples=permutations, alternative="two-sided",
        random_state=rng,
    )
    return float(min(1.0, result.pvalue))


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjustment of a family of p-values (strong control of the family-wise error)."""
    p = np.asarray(p_values, dtype=np.float64)
    order = np.argsort(p, kind="stable")
    adjusted = np.maximum.accumulate((len(p) - np.arange(len(p))) * p[order])
    result = np.empty_like(p)
    result[order] = np.minimum(adjusted, 1.0)
    return result


def paired_tests(
    frame: pd.DataFrame, columns: Sequence[str], directions: Mapping[str, bool], settings: StatisticsSettings
) -> pd.DataFrame:
    """Compare every configuration with its baseline, per test group and metric column.

    Parameters
    ----------
    frame
        Per-case metrics of every run.
    columns
        Metric columns to test.
    directions
        ``higher_is_better`` of each column (decides "better" or "worse").
    settings
        Baseline loss, resamples, seed and level.

    Returns
    -------
    pandas.DataFrame
        One row per configuration (other than a baseline), group and column that has a baseline:
        :data:`CONFIGURATION`, ``group``, ``metric``, ``pairs`` (cases in both), ``mean``,
        ``baseline_mean``, ``difference`` (mean of configuration minus baseline), ``p_value``,
        ``p_holm`` and ``verdict`` (``better``, ``worse`` or ``n.s.``). Empty when no configuration
        has a baseline.
    """
    rng = np.random.default_rng(settings.seed)
    means = seed_means(frame, columns)
    settings_keys = [key for key in CONFIGURATION if key != "loss"]
    rows = []
    for key, cases in means.groupby([*CONFIGURATION, "group"], sort=True):
        identity = dict(zip([*CONFIGURATION, "group"], key))
        if identity["loss"] == settings.baseline_loss:
            continue
        selector = (means["loss"] == settings.baseline_loss) & (means["group"] == identity["group"])
        for name in settings_keys:
            selector &= means[name] == identity[name]
        paired = cases.merge(means[selector], on="case_id", suffixes=("", "_baseline"))
        if paired.empty:
            continue
        for column in columns:
            ours, theirs = paired[column].to_numpy(float), paired[f"{column}_baseline"].to_numpy(float)
            rows.append({**identity, "metric": column, "pairs": len(paired), "mean": ours.mean(),
                         "baseline_mean": theirs.mean(), "difference": float(np.mean(ours - theirs)),
                         "p_value": paired_permutation_p(ours - theirs, settings.permutations, rng)})
    result = pd.DataFrame(rows, columns=[*CONFIGURATION, "group", "metric", "pairs", "mean", "baseline_mean",
                                         "difference", "p_value"])
    if result.empty:
        return result.assign(p_holm=pd.Series(dtype=float), verdict=pd.Series(dtype=str))
    result["p_holm"] = result.groupby(["group", "metric"])["p_value"].transform(lambda p: holm(p.to_numpy()))
    better = np.where(result["metric"].map(directions).astype(bool), result["difference"] > 0, result["difference"] < 0)
    result["verdict"] = np.where(result["p_holm"] >= settings.alpha, "n.s.", np.where(better, "better", "worse"))
    return result
