"""The ``seqr`` app of the seqr STAND-IN: only the modules, names and behaviour seqr_s3 depends on."""
