"""The built-in report sections (importing this package registers them), by profile.

Profile ``segmentation`` (``segpipe report``):

========  =======================================  ==========================================
order     section                                  module
========  =======================================  ==========================================
10        Summary                                  :mod:`~segpipe.reporting.sections.overview`
12        Data                                     :mod:`~segpipe.reporting.sections.data`
15        Study: one table per setting             :mod:`~segpipe.reporting.sections.study`
16        Against the published results            :mod:`~segpipe.reporting.sections.published`
20        Comparison with the baseline             :mod:`~segpipe.reporting.sections.overview`
30        Metrics per group                        :mod:`~segpipe.reporting.sections.figures`
40        Training                                 :mod:`~segpipe.reporting.sections.figures`
45        Training cost per loss                   :mod:`~segpipe.reporting.sections.study`
50        Topology of chosen cases                 :mod:`~segpipe.reporting.sections.topology`
55        Real photo                               :mod:`~segpipe.reporting.sections.photo`
60        Examples                                 :mod:`~segpipe.reporting.sections.examples`
70        Metric definitions                       :mod:`~segpipe.reporting.sections.definitions`
80        All results                              :mod:`~segpipe.reporting.sections.overview`
90        Configuration, 100 Software              :mod:`~segpipe.reporting.sections.settings`
========  =======================================  ==========================================

Profile ``decode`` (``segpipe report --profile decode``): Masks (10), Landmarks (20), Metrics per
group (30), Examples (60) of :mod:`~segpipe.reporting.sections.decode`, then Configuration and
Software.

Other stages add sections with :func:`segpipe.reporting.registry.register_section`.
"""

from segpipe.reporting.sections import (  # noqa: F401
    data,
    decode,
    definitions,
    examples,
    figures,
    overview,
    photo,
    published,
    settings,
    study,
    topology,
)
