"""Stage 4, TPS: each desa's households into polling stations (at most `max_voters`, one desa per TPS, a KK
never split, short walks, few changes from the last published night).

`assign(voters, coordinates, cap, ...)` is the stage; `read_coordinates` reads the RT coordinates file,
`read_sites` the candidate TPS sites.

Hard rules (PKPU 7/2024): at most `max_voters` per TPS, one desa per TPS, all voters of one KK in a desa at
one TPS, ceil(n / max_voters) TPS per desa unless household sizes force one more. Voters confirmed as
duplicates and not kept (a SAMA decision, keep = false) get no TPS.

The modules, from the file to the tables:

- `coordinates`: the RT coordinates file and the candidate sites file, read and checked;
- `roll`: who gets a TPS, and the households (a KK within a desa) with their points;
- `geometry`: metres, squared distances, distinct points, weighted means;
- `flow`, `whole`, `solver`: one desa's capacitated Lloyd iteration (`assign_desa`): the min-cost flow,
  its rounding to whole households under the cap, and the iteration around them;
- `numbering`: last night's TPS carried into tonight, and TPS numbers that keep their meaning;
- `desa`: one desa from its households to numbered TPS, settled so that the next night gives it back;
- `sites`: the place each TPS is proposed at (an RT point or a candidate site: the least walk);
- `quality`: tps_summary, tps_quality, tps_rt_splits and the churn;
- `stage`: `assign` over all desa, in worker processes when there are many households.
"""

from dpt_pipeline.tps.coordinates import COORDINATE_SCHEMA, SITE_SCHEMA, SkippedCoordinate, read_coordinates, read_sites
from dpt_pipeline.tps.quality import overall_churn
from dpt_pipeline.tps.roll import households
from dpt_pipeline.tps.solver import DesaResult, assign_desa
from dpt_pipeline.tps.stage import TpsResult, assign

__all__ = ["COORDINATE_SCHEMA", "SITE_SCHEMA", "DesaResult", "SkippedCoordinate", "TpsResult", "assign",
           "assign_desa", "households", "overall_churn", "read_coordinates", "read_sites"]
