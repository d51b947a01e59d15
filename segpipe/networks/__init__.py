"""Networks: the MONAI network factory, HybridGNet (CNN encoder, graph-convolution decoder) and the
model file that training writes and inference reads."""
