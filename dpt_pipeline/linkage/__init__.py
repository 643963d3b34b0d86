"""Stage 2, linkage (filled in below)."""
