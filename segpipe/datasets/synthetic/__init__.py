"""Generators of the embedded synthetic data sets (``segpipe synth``): brick walls, vessel trees, chest radiographs."""
