"""The report's comparison with TopoMortar's published per-image results (../shared/topomortar/results)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segpipe.config import validate_config
from segpipe.errors import InputError
from segpipe.reporting.context import ReportContext
from segpipe.reporting.sections.published import (
    IMAGE_DIAGONAL,
    comparison_tables,
    kendall_tau,
    published_comparison,
    read_published,
)

SETTING = ("plain", "accurate", "large")
LOSSES = {"dice_ce": "CEDiceLoss", "cldice": "clDiceLoss", "skeleton_recall": "CESkeletonRecallLoss"}


def _our_frame(published: dict[str, pd.DataFrame], shift: dict[str, float]) -> pd.DataFrame:
    """Our metrics: the published per-image means of each loss, plus ``shift`` Betti0 errors, on two seeds."""
    rows = []
    for loss, table in published.items():
        for seed in (0, 1):
            for case_id, values in table.iterrows():
                rows.append({"run_id": f"unet.{loss}.accurate.large.plain.s{seed}", "model": "unet", "loss": loss,
                             "label_type": "accurate", "training_set": "large", "framework": "plain", "seed": seed,
                             "case_id": case_id, "split": "test", "group": "indistr" if int(case_id) <= 120 else "colors",
                             "reference": "accurate", "dice": values["dice"], "hd95": values["hd95"],
                             "betti0_error": values["betti0_error"] + shift.get(loss, 0.0),
                             "betti1_error": values["betti1_error"], "cldice": values["cldice"]})
    return pd.DataFrame(rows)


def test_published_results_are_read_as_their_authors_tabulate_them(topomortar):
    results = topomortar / "results"
    cedice = read_published(results, *SETTING, "dice_ce")
    assert cedice["seeds"].iloc[0] == 10 and len(cedice) == 350
    summary = pd.read_csv(results / "summary_by_setting.csv")
    row = summary[(summary["setting"] == "supervised/accurate/large") & (summary["loss"] == "CEDiceLoss")].iloc[0]
    groups = pd.read_csv(topomortar / "dataset" / "dataset_types.txt", dtype=str).set_index("ID")["group"]
    in_distribution = cedice[[groups[case] == "indistr" for case in cedice.index]]
    assert in_distribution["betti0_error"].mean() == pytest.approx(row["ID_B0"], abs=1e-3)
    assert in_distribution["hd95"].mean() == pytest.approx(row["ID_HD95"], abs=1e-3)
    assert cedice["hd95"].max() <= IMAGE_DIAGONAL  # empty predictions' 9999999 replaced by the diagonal
    assert read_published(results, *SETTING, "betti_matching") is None  # they did not run it


def test_ours_beside_theirs_with_paired_tests_and_rankings(topomortar):
    results = topomortar / "results"
    published = {loss: read_published(results, *SETTING, loss).iloc[:100] for loss in LOSSES}
    frame = _our_frame(published, {"cldice": 5.0})  # ours: as published, but clDice with 5 more Betti0 errors
    frame = pd.concat([frame, frame.assign(loss="betti_matching", run_id=frame["run_id"].str.replace("dice_ce", "x"))])
    config = validate_config({"report": {"published_results": str(results)}})
    ((setting, (means, rankings)),) = comparison_tables(ReportContext(config=config, frame=frame), results).items()
    assert setting == ("unet", "accurate", "large", "plain")
    assert set(means["loss"]) == set(LOSSES)  # betti_matching: not published, not compared
    same = means[(means["loss"] == "dice_ce") & (means["split"] == "ID")].iloc[0]
    ours, theirs = same["Betti0"].split(" (")[0].split(" / ")
    assert ours == theirs and same["Betti0"].endswith("(p=1)") and same["seeds (ours/published)"] == "2/10"
    shifted = means[(means["loss"] == "cldice") & (means["split"] == "ID")].iloc[0]
    assert float(shifted["Betti0"].split("p=")[1].rstrip(")")) < 0.01  # ours differ by 5 on every image
    dice = rankings[(rankings["split"] == "ID") & (rankings["metric"] == "Dice")].iloc[0]
    assert dice["ours (best first)"] == dice["published (best first)"] and dice["Kendall's tau"] == pytest.approx(1.0)
    betti0 = rankings[(rankings["split"] == "ID") & (rankings["metric"] == "Betti0")].iloc[0]
    assert betti0["ours (best first)"].endswith("cldice") and betti0["published (best first)"].startswith("cldice")
    assert betti0["Kendall's tau"] < 1.0


def test_absent_or_broken_published_results_are_said(tmp_path):
    frame = pd.DataFrame([{"run_id": "unet.dice_ce.accurate.large.plain.s0", "model": "unet", "loss": "dice_ce",
                           "label_type": "accurate", "training_set": "large", "framework": "plain", "seed": 0,
                           "case_id": "071", "split": "test", "group": "indistr", "reference": "accurate", "dice": 0.9}])
    absent = validate_config({"report": {"published_results": str(tmp_path / "nowhere")}})
    assert "No published results at" in published_comparison(ReportContext(config=absent, frame=frame))
    assert published_comparison(ReportContext(config=validate_config({}), frame=frame)) is None  # not asked for
    broken = tmp_path / "supervised" / "accurate" / "large" / "CEDiceLoss"
    broken.mkdir(parents=True)
    (broken / "1.csv").write_text("ID,Dice_mortar\n071,0.9\n")
    with pytest.raises(InputError, match="lacks the column"):
        read_published(tmp_path, *SETTING, "dice_ce")
    assert np.isnan(kendall_tau(pd.Series([1.0]), pd.Series([2.0])))
