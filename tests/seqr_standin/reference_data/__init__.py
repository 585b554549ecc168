"""Empty app keeping upstream seqr's app label ``reference_data`` in INSTALLED_APPS."""
