import gc

from repository import create_app

app = create_app()
# Each worker reads the search bitmaps as it starts, in the background, so that its first
# search need not (repository/search.py).
app.extensions["search"].read_bitmaps_in_background()
# What startup built (modules, schemas, validators: ~140,000 objects) lives as long as the
# worker: keep it out of the garbage collector's full passes, which took ~55 ms with it,
# a pause that every request in flight on the worker waits out.
gc.freeze()
