"""Empty app keeping upstream seqr's app label ``panelapp`` in INSTALLED_APPS."""
