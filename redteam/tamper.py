"""Tamper with a fixtures folder's index in place: python redteam/tamper.py FOLDER KIND.

KINDs:
  entry-checksum   the second record's entry of the last fixture holds another checksum than the head's
  entry-undecodable the last fixture's entry holds a case that cannot be rebuilt
  feedback-missing the second record has no entry for feedback/softmax.yaml (the head still lists it)
  feedback-undecodable the feedback entry's document cannot be rebuilt
  layout           the second record's layout is another, the head's not (a damaged index)
  stale-code       both records were written for other fixture classes (the grader's code changed since)
  truncated        the second record is cut short
  nul-name         the head's checksums name "a\\0b"
  dotdot-names     the head's checksums name ../x, feedback/../../etc/passwd, /etc/passwd, feedback/.., ''
  nonstr-names     the head's checksums have int / tuple / None names and values
  huge             the head's checksums name 200000 files that do not exist
"""
import marshal
import sys
from pathlib import Path

INDEX = ".parsed-fixtures.index"
CASES_KEYS = ("layout", "files", "feedback")


def read(folder):
    data = (folder / INDEX).read_bytes()
    n = int.from_bytes(data[:8], "big")
    return marshal.loads(data[8:8 + n]), marshal.loads(data[8 + n:])


def write(folder, head, cases, cut=None):
    first = marshal.dumps(head, 4)
    second = marshal.dumps(cases, 4)
    if cut:
        second = second[:cut]
    (folder / INDEX).write_bytes(len(first).to_bytes(8, "big") + first + second)


folder, kind = Path(sys.argv[1]), sys.argv[2]
head, cases = read(folder)
last = sorted(cases["files"])[-1]
cut = None
if kind == "entry-checksum":
    cases["files"][last]["checksum"] = "1:00000000"
elif kind == "entry-undecodable":
    cases["files"][last]["case"] = ("D", "Case", ("broken",))
elif kind == "feedback-missing":
    cases["feedback"].pop("feedback/softmax.yaml")
elif kind == "feedback-undecodable":
    cases["feedback"]["feedback/softmax.yaml"]["document"] = ("Z", 1)
elif kind == "layout":
    cases["layout"] = (("Case", ("other",)),)
elif kind == "stale-code":
    cases["layout"] = (("Case", ("other",)),)
    if "fields" in head:
        head["fields"] = cases["layout"]
elif kind == "truncated":
    cut = 1000
elif kind == "nul-name":
    head["checksums"]["a\x00b"] = "1:00000000"
elif kind == "dotdot-names":
    for name in ("../x", "feedback/../../etc/passwd", "/etc/passwd", "feedback/..", "", "..", "feedback/./softmax.yaml"):
        head["checksums"][name] = "1:00000000"
elif kind == "nonstr-names":
    head["checksums"].update({1: "x", ("a",): None, None: 3})
elif kind == "huge":
    head["checksums"].update({f"f{i}.yaml": "1:00000000" for i in range(200000)})
else:
    raise SystemExit(f"unknown kind {kind}")
write(folder, head, cases, cut)
print(f"tampered: {kind}")
