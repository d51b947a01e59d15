"""Datasets: synthetic generators, dataset layouts and the case manifest shared by all stages."""
