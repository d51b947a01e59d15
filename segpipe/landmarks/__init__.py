"""Landmark decoding with HybridGNet: training, decoding to contours and masks, evaluation."""
