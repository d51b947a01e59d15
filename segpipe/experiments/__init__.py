"""Experiments: the run grid and run identity (:mod:`~segpipe.experiments.grid`), and the decode
comparison's derived configuration (:mod:`~segpipe.experiments.decode_comparison`)."""
