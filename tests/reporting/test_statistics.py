"""Statistics across runs: seed means, bootstrap intervals, the paired permutation test, Holm, baselines."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from segpipe.reporting.statistics import (
    StatisticsSettings,
    bootstrap_interval,
    holm,
    paired_permutation_p,
    paired_tests,
    seed_means,
    summarise,
)


def _frame(rows):
    return pd.DataFrame(rows, columns=["run_id", "model", "loss", "label_type", "training_set", "framework", "seed", "case_id",
                                       "group", "dice", "betti0_error"])


def _runs(rng, losses, seeds=(0, 1), cases=12, shift=None, label_type="accurate"):
    """Rows of runs whose dice is a per-case base value plus noise, plus ``shift[loss]``."""
    base = rng.uniform(0.5, 0.8, cases)
    rows = []
    for loss, seed in itertools.product(losses, seeds):
        noise = rng.normal(0, 0.01, cases)
        for i in range(cases):
            rows.append([f"unet.{loss}.{label_type}.large.plain.s{seed}", "unet", loss, label_type, "large", "plain", seed, f"{i:03d}",
                         "indistr", base[i] + (shift or {}).get(loss, 0.0) + noise[i], float(i % 3)])
    return rows


def test_seed_means_average_each_case_over_seeds():
    rows = [["unet.a.accurate.large.plain.s0", "unet", "a", "accurate", "large", "plain", 0, "001", "indistr", 0.4, 1.0],
            ["unet.a.accurate.large.plain.s1", "unet", "a", "accurate", "large", "plain", 1, "001", "indistr", 0.6, 3.0],
            ["unet.a.accurate.large.plain.s0", "unet", "a", "accurate", "large", "plain", 0, "002", "indistr", 0.9, 0.0]]
    means = seed_means(_frame(rows), ["dice", "betti0_error"])
    assert means[["case_id", "seeds", "dice", "betti0_error"]].values.tolist() == [["001", 2, 0.5, 2.0], ["002", 1, 0.9, 0.0]]


def test_bootstrap_interval_covers_the_mean_and_is_reproducible():
    rng = np.random.default_rng(0)
    values = rng.normal(3.0, 1.0, 60)
    settings = StatisticsSettings(bootstrap_samples=4000)
    low, high = bootstrap_interval(values, settings, np.random.default_rng(1))
    assert low < values.mean() < high
    half_width = 1.96 * values.std(ddof=1) / np.sqrt(len(values))  # the normal-theory interval, roughly
    assert (high - low) / 2 == pytest.approx(half_width, rel=0.15)
    assert bootstrap_interval(values, settings, np.random.default_rng(1)) == (low, high)
    assert np.isnan(bootstrap_interval(values[:1], settings, np.random.default_rng(1))).all()
    assert bootstrap_interval(np.full(5, 2.0), settings, np.random.default_rng(1)) == (2.0, 2.0)


def test_permutation_p_value_is_the_exact_sign_flip_test():
    differences = np.array([0.3, -0.1, 0.4, 0.2, 0.25, -0.05, 0.15, 0.1])
    flips = np.array(list(itertools.product((1, -1), repeat=len(differences))))
    observed = abs(differences.mean())
    exact = np.mean(np.abs((flips * differences).mean(axis=1)) >= observed - 1e-12)
    assert paired_permutation_p(differences, 10000, np.random.default_rng(0)) == pytest.approx(exact)
    assert paired_permutation_p(np.array([1.0, 2.0, 3.0, 4.0]), 10000, np.random.default_rng(0)) == pytest.approx(2 / 16)
    assert paired_permutation_p(np.zeros(6), 10000, np.random.default_rng(0)) == 1.0
    assert paired_permutation_p(np.array([2.5]), 10000, np.random.default_rng(0)) == 1.0  # one pair: +-2.5 tie


def test_holm_adjustment():
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(holm([0.5]), [0.5])
    np.testing.assert_allclose(holm([0.4, 0.3]), [0.6, 0.6])


def test_configurations_are_compared_with_their_baseline_loss():
    rng = np.random.default_rng(3)
    rows = _runs(rng, ["dice_ce", "cldice", "tiny"], shift={"cldice": 0.05, "tiny": 0.001})
    rows += _runs(rng, ["cldice"], label_type="noisy")  # no noisy baseline: not tested
    frame = _frame(rows)
    tests = paired_tests(frame, ["dice", "betti0_error"], {"dice": True, "betti0_error": False}, StatisticsSettings())
    assert set(zip(tests["loss"], tests["label_type"])) == {("cldice", "accurate"), ("tiny", "accurate")}
    dice = tests[tests["metric"] == "dice"].set_index("loss")
    assert dice.loc["cldice", "verdict"] == "better" and dice.loc["cldice", "p_holm"] < 0.01
    assert dice.loc["cldice", "difference"] == pytest.approx(0.05, abs=0.01) and dice.loc["cldice", "pairs"] == 12
    assert (tests[tests["metric"] == "betti0_error"]["verdict"] == "n.s.").all()  # identical values: p = 1
    assert (tests["p_holm"] >= tests["p_value"]).all()
    lower_is_better = paired_tests(frame, ["dice"], {"dice": False}, StatisticsSettings())
    assert lower_is_better.set_index("loss").loc["cldice", "verdict"] == "worse"
    none = paired_tests(frame, ["dice"], {"dice": True}, StatisticsSettings(baseline_loss="absent"))
    assert none.empty and {"p_holm", "verdict"} <= set(none.columns)


def test_summary_has_one_row_per_configuration_group_and_metric():
    frame = _frame(_runs(np.random.default_rng(4), ["dice_ce", "cldice"], seeds=(0, 1, 2)))
    summary = summarise(frame, ["dice", "betti0_error"], StatisticsSettings(bootstrap_samples=500))
    assert len(summary) == 4 and set(summary["seeds"]) == {3} and set(summary["cases"]) == {12}
    assert (summary["ci_low"] <= summary["mean"]).all() and (summary["mean"] <= summary["ci_high"]).all()
    expected = seed_means(frame, ["dice"]).groupby("loss")["dice"].mean()
    dice = summary[summary["metric"] == "dice"].set_index("loss")["mean"]
    assert dice.to_dict() == pytest.approx(expected.to_dict())
