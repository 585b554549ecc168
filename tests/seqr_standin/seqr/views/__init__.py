"""Views of the seqr stand-in, at upstream's module paths."""
