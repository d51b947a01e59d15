"""Networks: the MONAI network factory and the saved-model format shared by train and predict."""
