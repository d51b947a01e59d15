"""Reading and writing files: images with their geometry (NIfTI, MHA/NRRD, PNG, TIFF), atomic writes.

:mod:`segpipe.io.images` reads and writes images and masks with their geometry
(:class:`~segpipe.io.images.Geometry`, ITK order); :mod:`segpipe.io.atomic` writes every final
output through a temporary file and a rename, so that a killed job never leaves a half-written file.
"""
