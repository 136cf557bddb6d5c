"""Captions from a model: the WD14 tagger (wd14), BLIP sentences (blip), the pipeline that runs either
over many images (pipeline), and writing them into a project's captions, undoably (autotag)."""
