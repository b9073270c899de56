"""The benchmarks are scripts, not a package: make `import loadgen` work as it does when they run."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
