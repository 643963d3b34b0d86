"""dpt-pipeline: clean the Indonesian voter roll (DPT) and map voters to polling stations (TPS)."""

from __future__ import annotations

__version__ = "0.1.0"
