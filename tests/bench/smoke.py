#!/usr/bin/python3
"""Runs the benchmark suite once at tiny sizes (suite.py --smoke) so that its programs cannot
rot: every benchmark program must run natively and under the library and print its result
line, and the report and the plot must be written. Figures are not judged.

usage: smoke.py SUITE BUILD_DIR OUT_DIR
"""

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

suite, build, out = sys.argv[1:4]
shutil.rmtree(out, ignore_errors=True)
proc = subprocess.run(["/usr/bin/python3", suite, "--smoke", "--build", build, "--out", out],
                      capture_output=True, text=True, timeout=240)
sys.stdout.write(proc.stdout)
sys.stderr.write(proc.stderr)
if proc.returncode != 0:
    sys.exit(f"smoke: suite.py --smoke failed with exit status {proc.returncode}")

report = open(os.path.join(out, "report.md")).read()
expected = ["## Thread micro-benchmarks", "## N threads blocked at once", "## Echo servers",
            "## Sleep and timeout accuracy", "## Overhead on programs that never block", "## Name resolution",
            "## Targets"]
missing = [h for h in expected if h not in report]
if missing:
    sys.exit(f"smoke: report.md lacks {missing}")
if "| –" in report.split("## Targets")[0].split("## Echo servers")[1].split("\n\n")[1]:
    sys.exit("smoke: an echo server has no figures")
svg = ET.parse(os.path.join(out, "echo.svg")).getroot()
lines = [e for e in svg.iter() if e.tag.endswith("polyline")]
if len(lines) != 8:  # four servers, two panels
    sys.exit(f"smoke: echo.svg has {len(lines)} lines, expected 8")
print("smoke: every benchmark program ran natively and under the library; report and plot written")
