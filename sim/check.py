"""Compare the testbench's result (``sim/build/result.json``) with the model's expectation
(``sim/build/expected.json``, from ``make_case.py``): exit 0 when outputs, cycles and the
per-PE counters are identical, 1 otherwise."""

import json
import sys
from pathlib import Path

build = Path(__file__).parent / "build"
res = json.loads((build / "result.json").read_text())
exp = json.loads((build / "expected.json").read_text())
if res["error"]:
    sys.exit(f"the RTL run failed: {res['error']}")
rtl = res["layers"][0]
diffs = [k for k in ("outputs_q", "cycles") if rtl[k] != exp[k]]
diffs += [f"pe.{k}" for k in exp["pe"] if rtl["pe"][k] != exp["pe"][k]]
print("RTL == model (outputs, cycles, counters)" if not diffs else f"MISMATCH: {', '.join(diffs)}")
sys.exit(1 if diffs else 0)
