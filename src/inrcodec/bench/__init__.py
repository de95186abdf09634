"""The rate-distortion harness: run codecs x sequences x rate points, report BD-rates and plots.

- `codecs`: the codecs it runs, by name (`get_codec`).
- `spec`: what to run (YAML or flags), checked in full before anything runs (`plan`).
- `run`: measure each point (`measure`), in worker processes if asked, resumably (`run_points`).
- `results`: the JSON Lines results file, written a durable line at a time.
- `bdrate`: Bjøntegaard delta rate (PCHIP as in the JVET CTC, or the VCEG-M33 cubic).
- `plots`, `report`: RD curves and a Markdown report (docs/bench.md).
"""

from inrcodec.bench.bdrate import METHODS, BDRateError, bd_rate, bd_rate_table
from inrcodec.bench.codecs import get_codec, harness_codecs
from inrcodec.bench.report import ReportError, write_report
from inrcodec.bench.results import QUALITY_METRICS, ResultsError, ResultWriter, read_results
from inrcodec.bench.run import RunSummary, measure, run_points
from inrcodec.bench.spec import Point, Spec, SpecError, load_spec, parse_spec, plan, point_key

__all__ = [
    "METHODS",
    "QUALITY_METRICS",
    "BDRateError",
    "Point",
    "ReportError",
    "ResultWriter",
    "ResultsError",
    "RunSummary",
    "Spec",
    "SpecError",
    "bd_rate",
    "bd_rate_table",
    "get_codec",
    "harness_codecs",
    "load_spec",
    "measure",
    "parse_spec",
    "plan",
    "point_key",
    "read_results",
    "run_points",
    "write_report",
]
