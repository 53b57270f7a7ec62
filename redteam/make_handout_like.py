"""A handout-like fixtures folder (visible fixtures; feedback without `value`, with its .npz) at argv[1]."""
import shutil, sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from autograder.fixtures import load_cases
from autograder.package import handout_feedback

src, dest = Path("test_cases"), Path(sys.argv[1])
shutil.copytree(src, dest, ignore=shutil.ignore_patterns(".parsed-fixtures.index"))
shipped = [c for c in load_cases(src) if c.visibility == "visible"]
for c in load_cases(src):
    if c.visibility != "visible":
        (dest / c.path.name).unlink()
for name, (data, mode) in handout_feedback(shipped).items():
    (dest / Path(name).relative_to("test_cases")).write_bytes(data)
print(sorted(p.name for p in dest.rglob("*")))
