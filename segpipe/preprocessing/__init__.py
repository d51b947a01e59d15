"""Preprocessing (``segpipe preprocess``): label checks and policy, resampling, normalisation,
distance maps and the dataset fingerprint; and the image preparation of HybridGNet."""
