"""Datasets: the layouts on disk (TopoMortar, dataset.json), the case manifest and preprocessed cases.

:mod:`~segpipe.datasets.layout` reads a dataset directory into a :class:`~segpipe.datasets.manifest.Manifest`;
:mod:`~segpipe.datasets.cases` is the on-disk format of a preprocessed case; :mod:`~segpipe.datasets.landmarks`
the landmark data sets of HybridGNet; :mod:`~segpipe.datasets.synthetic` generates the embedded data
sets (brick walls, vessel trees, chest radiographs).
"""
