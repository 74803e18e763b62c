"""Native code compiled on the machine that runs it (see ``build.py``)."""
