"""Empty app keeping upstream seqr's app label ``matchmaker`` in INSTALLED_APPS."""
