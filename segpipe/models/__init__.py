"""Networks: the MONAI network factory and HybridGNet with its landmark graphs."""
