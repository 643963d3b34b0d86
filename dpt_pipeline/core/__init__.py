"""The vocabulary every stage speaks, below all of them: the canonical voter fields (`schema`), the
linkage's thresholds (`thresholds`), reviewers' decisions and what they strike (`decisions`), and the keys
every stage agrees on, the desa key and the pair id (`keys`). Each decision is made here once. Imports no
stage.
"""
