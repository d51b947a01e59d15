"""The built-in report sections (importing this package registers them).

========  =======================================  ==========================================
order     section                                  module
========  =======================================  ==========================================
10        Summary                                  :mod:`~segpipe.report.sections.overview`
12        Data                                     :mod:`~segpipe.report.sections.data`
15        Study: one table per setting             :mod:`~segpipe.report.sections.study`
20        Comparison with the baseline             :mod:`~segpipe.report.sections.overview`
30        Metrics per group                        :mod:`~segpipe.report.sections.figures`
40        Training                                 :mod:`~segpipe.report.sections.figures`
45        Training cost per loss                   :mod:`~segpipe.report.sections.study`
50        Topology of chosen cases                 :mod:`~segpipe.report.sections.topology`
55        Real photo                               :mod:`~segpipe.report.sections.photo`
60        Examples                                 :mod:`~segpipe.report.sections.examples`
70        Metric definitions                       :mod:`~segpipe.report.sections.definitions`
80        All results                              :mod:`~segpipe.report.sections.overview`
90        Configuration, 100 Software              :mod:`~segpipe.report.sections.settings`
========  =======================================  ==========================================

Other stages add sections with :func:`segpipe.report.registry.register_section`.
"""

from segpipe.report.sections import (  # noqa: F401
    data,
    definitions,
    examples,
    figures,
    overview,
    photo,
    settings,
    study,
    topology,
)
