"""Stage 3, review: the duplicate-candidate files a camat works in (one per kecamatan, XLSX or CSV), and
their decisions read back into the database so the next night builds on them. `exchange` writes and
reads the files, `sheet` lays out the XLSX; what a decision means lives in `core.decisions`.
"""
