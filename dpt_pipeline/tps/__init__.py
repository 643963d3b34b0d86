"""Stage 4, TPS: each desa's households into polling stations (at most `max_voters`, one desa per TPS, a KK
never split, short walks, few changes from the last published night).

`assign(voters, coordinates, cap, ...)` is the stage; `read_coordinates` reads the RT coordinates file.
"""

from dpt_pipeline.tps.solver import (
    COORDINATE_SCHEMA,
    DesaResult,
    SkippedCoordinate,
    TpsResult,
    assign,
    assign_desa,
    households,
    overall_churn,
    read_coordinates,
)

__all__ = ["COORDINATE_SCHEMA", "DesaResult", "SkippedCoordinate", "TpsResult", "assign", "assign_desa",
           "households", "overall_churn", "read_coordinates"]
