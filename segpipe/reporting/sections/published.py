"""Report section: our results beside TopoMortar's published per-image results on the same test images.

The TopoMortar authors published, for each of their study cases, losses and ten seeds, one CSV of
per-image test metrics (``results/<framework>/<labels>/<training set>/<loss>/<seed>.csv``;
``../shared/topomortar/README.md``). ``report.published_results`` names that folder. For every
setting of our runs that they also ran, and every loss both ran, the section shows per split (ID:
the in-distribution group; OOD: the six out-of-distribution groups pooled, never mixed with ID):

- our mean beside theirs over the same images (each image averaged over the seeds first), with the
  p-value of a paired permutation test over the images (ours vs theirs);
- per metric, the losses ranked by our means and by theirs, with Kendall's tau between the two
  rankings (over the losses both ran; shown from two losses on).

The authors write an empty prediction's HD95 as 9999999 and replace it by the image diagonal
(722.66 px) in their tables; so does this section.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from segpipe.errors import InputError
from segpipe.reporting import html
from segpipe.reporting.context import ReportContext
from segpipe.reporting.registry import register_section
from segpipe.reporting.sections.study import SETTING, study_frame
from segpipe.reporting.statistics import paired_permutation_p, seed_means

#: Our loss names to the published loss folders.
PUBLISHED_LOSSES = {
    "dice_ce": "CEDiceLoss", "cldice": "clDiceLoss", "skeleton_recall": "CESkeletonRecallLoss", "cbdice": "cbDiceLoss",
    "topo_loss": "TopoLoss", "warping": "WarpingLoss", "region_wise": "RegionWiseLoss", "topo": "MSETopoWinLoss",
}
#: Our frameworks to the published framework folders.
PUBLISHED_FRAMEWORKS = {"plain": "supervised", "random_hue": "randhue", "self_distillation": "selfdistillation"}
#: Published CSV columns to our metric columns.
PUBLISHED_COLUMNS = {
    "Betti0Error_mortar": "betti0_error", "Betti1Error_mortar": "betti1_error", "Dice_mortar": "dice",
    "HD95_mortar": "hd95", "clDice_mortar": "cldice",
}
#: The published HD95 of an empty prediction, and the image diagonal its authors replace it by.
EMPTY_HD95, IMAGE_DIAGONAL = 9999999.0, 722.66
#: Columns compared, with their display names.
COMPARED = {"betti0_error": "Betti0", "betti1_error": "Betti1", "dice": "Dice", "hd95": "HD95", "cldice": "clDice"}


def read_published(directory: Path, framework: str, label_type: str, training_set: str, loss: str) -> pd.DataFrame | None:
    """The published per-image metrics of one setting and loss, averaged over their seeds.

    Parameters
    ----------
    directory
        The published ``results`` folder.
    framework, label_type, training_set, loss
        Our names of the setting and the loss.

    Returns
    -------
    pandas.DataFrame or None
        Indexed by ``case_id``; our metric columns and ``seeds``. None when they did not run it.

    Raises
    ------
    InputError
        If a published file cannot be read or lacks a column.
    """
    if framework not in PUBLISHED_FRAMEWORKS or loss not in PUBLISHED_LOSSES:
        return None
    folder = directory / PUBLISHED_FRAMEWORKS[framework] / label_type / training_set / PUBLISHED_LOSSES[loss]
    files = sorted(folder.glob("*.csv"))
    if not files:
        return None
    seeds = []
    for path in files:
        try:
            table = pd.read_csv(path, dtype={"ID": str})
        except (OSError, ValueError) as error:
            raise InputError(f"cannot read the published results file {path}: {error}",
                             fix="restore the file, or set report.published_results to null") from error
        missing = sorted({"ID", *PUBLISHED_COLUMNS} - set(table.columns))
        if missing:
            raise InputError(f"the published results file {path} lacks the column(s) {', '.join(missing)}",
                             fix="give the TopoMortar results folder (results/<framework>/<labels>/<set>/<loss>/<seed>.csv)")
        table = table.rename(columns=PUBLISHED_COLUMNS).rename(columns={"ID": "case_id"})
        table["hd95"] = table["hd95"].where(table["hd95"] < EMPTY_HD95, IMAGE_DIAGONAL)
        seeds.append(table[["case_id", *PUBLISHED_COLUMNS.values()]])
    means = pd.concat(seeds).groupby("case_id").mean()
    means["seeds"] = len(files)
    return means


def kendall_tau(ours: pd.Series, theirs: pd.Series) -> float:
    """Kendall's tau-b between two sets of means over the same losses (nan below two losses)."""
    from scipy import stats

    if len(ours) < 2:
        return float("nan")
    return float(stats.kendalltau(ours.to_numpy(float), theirs.to_numpy(float)).statistic)


def comparison_tables(context: ReportContext, directory: Path) -> dict[tuple[str, ...], tuple[pd.DataFrame, pd.DataFrame]]:
    """Per setting: the means table (ours, published, p-value) and the rankings table.

    Returns
    -------
    dict
        Setting (``model, label_type, training_set, framework``) to ``(means, rankings)``; settings
        without a loss that both ran are left out.
    """
    frame = study_frame(context.frame)
    columns = [column for column in COMPARED if column in frame.columns]
    means = seed_means(frame, columns)
    means["case_id"] = means["case_id"].astype(str).str.zfill(3)
    settings = context.statistics_settings
    rng = np.random.default_rng(settings.seed)
    result = {}
    for setting, rows in means.groupby(SETTING, sort=True):
        identity = dict(zip(SETTING, setting))
        lines, averages = [], []
        for loss in sorted(rows["loss"].unique()):
            published = read_published(directory, identity["framework"], identity["label_type"], identity["training_set"], loss)
            if published is None:
                continue
            for split in ("ID", "OOD"):
                ours = rows[(rows["loss"] == loss) & (rows["group"] == split)].set_index("case_id")
                paired = ours[columns].merge(published[columns], left_index=True, right_index=True, suffixes=("", "_published"))
                if paired.empty:
                    continue
                line = {"split": split, "loss": loss, "images": len(paired),
                        "seeds (ours/published)": f"{int(ours['seeds'].max())}/{int(published['seeds'].iloc[0])}"}
                average = {"split": split, "loss": loss}
                for column in columns:
                    mine, theirs = paired[column].to_numpy(float), paired[f"{column}_published"].to_numpy(float)
                    p = paired_permutation_p(mine - theirs, settings.permutations, rng)
                    line[COMPARED[column]] = f"{mine.mean():.3f} / {theirs.mean():.3f} (p={p:.2g})"
                    average[column], average[f"{column}_published"] = mine.mean(), theirs.mean()
                lines.append(line)
                averages.append(average)
        if not lines:
            continue
        result[tuple(setting)] = (pd.DataFrame(lines), _rankings(pd.DataFrame(averages), columns, context.directions))
    return result


def _rankings(averages: pd.DataFrame, columns: list[str], directions: dict[str, bool]) -> pd.DataFrame:
    """Losses ranked by our means and by the published means, per split and metric, with Kendall's tau."""
    rows = []
    for split, table in averages.groupby("split", sort=False):
        for column in columns:
            descending = directions.get(column, False)
            ours = table.sort_values(column, ascending=not descending)["loss"].tolist()
            theirs = table.sort_values(f"{column}_published", ascending=not descending)["loss"].tolist()
            rows.append({"split": split, "metric": COMPARED[column], "ours (best first)": ", ".join(ours),
                         "published (best first)": ", ".join(theirs),
                         "Kendall's tau": kendall_tau(table[column], table[f"{column}_published"])})
    return pd.DataFrame(rows)


@register_section("Against the published results", order=16)
def published_comparison(context: ReportContext) -> str | None:
    """Our means beside TopoMortar's on the same images, paired tests and the two rankings of the losses."""
    folder = context.config["report"]["published_results"]
    if folder is None:
        return None
    directory = Path(folder)
    if not directory.is_dir():
        return html.paragraph(f"No published results at {html.escape(directory)} (report.published_results): "
                              "nothing to compare with.", note=True)
    tables = comparison_tables(context, directory)
    if not tables:
        return html.paragraph(f"The published results at {html.escape(directory)} hold none of the settings and "
                              "losses of these runs.", note=True)
    parts = [html.paragraph(
        "Ours / published: means over the same test images (each image averaged over the seeds first); p: paired "
        "permutation test over the images, ours against theirs. ID: the in-distribution group; OOD: the six "
        "out-of-distribution groups pooled. The published runs are TopoMortar's (DynUNet, 12,000 iterations, GPU); "
        "Kendall's tau compares the two rankings over the losses both ran.")]
    for setting, (means, rankings) in tables.items():
        parts.append(f"<h3>{html.escape(', '.join(map(str, setting)))}</h3>")
        parts.append(means.to_html(index=False, border=0))
        parts.append(rankings.to_html(index=False, border=0, float_format=lambda value: f"{value:.2f}", na_rep="-"))
    return "\n".join(parts)
