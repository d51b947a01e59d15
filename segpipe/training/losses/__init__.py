"""Training losses: a registry of named terms combined into weighted sums from the configuration.

Importing this package registers the built-in terms; see :mod:`segpipe.training.losses.registry` for the
term interface and :func:`build_loss` for turning a ``losses.<name>`` definition into a loss.

Each term wraps a plain loss module ``loss(input, target)`` in MONAI's manner (MONAI's ``DiceCELoss``,
``SoftclDiceLoss``; ours: :class:`BettiMatchingLoss`, :class:`SkeletonRecallLoss`, :class:`TopoLoss`,
:class:`WarpingLoss`, :class:`CbDiceLoss`, :class:`RegionWiseLoss`), usable without the
registry.

===================  =============================================  ======================================
term                 module                                         extras (computed on the CPU)
===================  =============================================  ======================================
``dice_ce``          :mod:`segpipe.training.losses.region`          none
``dice``, ``ce``     :mod:`segpipe.training.losses.region`          none
``cldice``           :mod:`segpipe.training.losses.cldice`          none (iterations from the fingerprint)
``skeleton_recall``  :mod:`segpipe.training.losses.skeleton_recall` tubed skeleton per augmented sample
``betti_matching``   :mod:`segpipe.training.losses.betti_matching`  none (matching on a thread pool)
``mip``              :mod:`segpipe.training.losses.mip`             whole-volume label projections per case
``boundary``         :mod:`segpipe.training.losses.boundary`        signed distance map from preprocessing
``topo_loss``        :mod:`segpipe.training.losses.topo_loss`       none (barcodes on a thread pool)
``warping``          :mod:`segpipe.training.losses.warping`         none (critical voxels on the CPU)
``cbdice``           :mod:`segpipe.training.losses.cbdice`          label's radius maps per augmented sample
``region_wise``      :mod:`segpipe.training.losses.region_wise`     label's region-wise maps per sample
``topo``             :mod:`segpipe.training.losses.topo`            label's clipped distance map per sample
===================  =============================================  ======================================

In a multi-class run every term but the region terms is computed per class, one class against the
rest, and averaged (:class:`segpipe.training.losses.registry.OneVsRestTerm`); ``boundary`` is refused.
"""

from segpipe.training.losses import (  # noqa: F401  (register terms)
    betti_matching,
    boundary,
    cbdice,
    cldice,
    mip,
    region,
    region_wise,
    skeleton_recall,
    topo,
    topo_loss,
    warping,
)
from segpipe.training.losses.betti_matching import BettiMatchingLoss
from segpipe.training.losses.cbdice import CbDiceLoss
from segpipe.training.losses.region_wise import RegionWiseLoss
from segpipe.training.losses.registry import (
    CompositeLoss,
    LossTerm,
    TermContext,
    build_loss,
    register_term,
    term_names,
)
from segpipe.training.losses.schedules import Progress
from segpipe.training.losses.skeleton_recall import SkeletonRecallLoss
from segpipe.training.losses.topo_loss import TopoLoss
from segpipe.training.losses.warping import WarpingLoss

__all__ = ["BettiMatchingLoss", "CbDiceLoss", "RegionWiseLoss", "SkeletonRecallLoss", "TopoLoss", "WarpingLoss", "CompositeLoss", "LossTerm", "Progress", "TermContext", "build_loss", "register_term", "term_names"]
