"""Training (``segpipe train``): the training loop, batches and augmentation, checkpoints, data-parallel
processes, frameworks, and the loss terms (:mod:`segpipe.training.losses`)."""
