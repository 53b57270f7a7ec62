"""For each folder given: what index_head, index_covers and read_index say (or the exception)."""
import sys, time, traceback
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from autograder.fixture_index import index_covers, index_head, read_index
from autograder.fixtures import fixture_files

for arg in sys.argv[1:]:
    folder = Path(arg)
    t = time.perf_counter()
    try:
        head = index_head(folder)
        verified = head[3] if head else {}
        covers = index_covers(folder, fixture_files(folder), verified)
        cases, docs = read_index(folder, verified)
        n = len(fixture_files(folder))
        print(f"{folder.name}: head {'ok' if head else None}, verified {len(verified)}, covers {covers}, "
              f"cases {len(cases)}/{n}, feedback docs {len(docs)}; yaml needed after prepare but not imported "
              f"before: {covers and (len(cases) < n or len(docs) < len(verified) - len(cases))} "
              f"({(time.perf_counter() - t) * 1000:.1f} ms)")
    except Exception:
        print(f"{folder.name}: CRASH"); traceback.print_exc(limit=3)
