"""Proof that each task rule is tested: switch one rule off at a time (in a copy of the tree)
and run tests/core/test_task_rules.py and test_duties.py; every switch must make a test fail.

Run from the repository root: python -m tests.core.rule_mutations
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

RULES = "bot/core/task_rules.py"
TESTS = ["tests/core/test_task_rules.py", "tests/core/test_duties.py"]
MUTATIONS = {
    "only the listed moves": ("if move not in ALLOWED:", "if False:"),
    "only the 责任人 submits (check)": ("move == SUBMIT and not may_fix", "False and not may_fix"),
    "only the 责任人 works on the fix": (
        "return actor.person_id == task.responsible_person_id",
        "return True",
    ),
    "a fix only while open": ("return task.status is TaskStatus.OPEN", "return True"),
    "a fix needs a photo": ("and fix_photos == 0:", "and False:"),
    "one extension request at a time": ("and extension_pending:", "and False:"),
    "not one's own work (verify)": (
        "if actor.person_id in (task.responsible_person_id, submitted_by):\n        return False",
        "if False:\n        return False",
    ),
    "creator or manager verifies": (
        "    return actor.person_id == task.created_by or actor.is_site_manager\n\n\ndef may_w",
        "    return True\n\n\ndef may_w",
    ),
    "verify (check)": ("move in (APPROVE, REJECT) and not may_verify", "False and not may_verify"),
    "verify only under review": (
        "return None if task.status is TaskStatus.REVIEW else Refusal.STALE",
        "return None",
    ),
    "退回 says why": ("move == REJECT and not has_reason", "False and not has_reason"),
    "creator or manager withdraws": (
        'answer changed) or a manager of its site."""\n'
        "    return actor.person_id == task.created_by or actor.is_site_manager",
        'answer changed) or a manager of its site."""\n    return True',
    ),
    "撤销 says why": ("move in WITHDRAW and not has_reason", "False and not has_reason"),
    "a reason is more than white space": (
        "return bool(reason and reason.strip())",
        "return bool(reason)",
    ),
    "who sees the details": (
        "return actor.person_id in (task.responsible_person_id, task.created_by) or (",
        "return True or (",
    ),
    "managers decide extensions": ("    return actor.is_site_manager\n", "    return True\n"),
    "not one's own extension": (
        "decides_extensions(actor) and actor.person_id != requested_by",
        "decides_extensions(actor)",
    ),
    "decided while the request waits": (
        "if requested_by is None or not waiting:",
        "if requested_by is None:",
    ),
    "self-assignment only when allowed": (
        "return responsible_id != inspector_id or self_assign_allowed",
        "return True",
    ),
    "a task follows its answer": (
        "if not_applicable or score is None or score >= item.max_score:",
        "if not_applicable or score is None:",
    ),
    "closed tasks do not follow": (
        "if task.status not in OPEN_TASK_STATUSES:\n        return Follow.KEEP",
        "if False:\n        return Follow.KEEP",
    ),
    "the submitter is the last to send it for review": (
        "event.to_status is TaskStatus.REVIEW:",
        "event.to_status is not None:",
    ),
}


def _passes(copy: Path) -> bool:
    """Whether the rules' tests pass in the copy (False: some test failed)."""
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *TESTS],
        cwd=copy,
        env={"PYTHONPATH": str(copy), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    return run.returncode == 0


def main() -> int:
    root = Path.cwd()
    source = (root / RULES).read_text(encoding="utf-8")
    survived = []
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch)
        for name in ("bot", "standards", "storage", "tests", "pyproject.toml"):
            if (root / name).is_dir():
                shutil.copytree(root / name, copy / name)
            else:
                shutil.copy2(root / name, copy / name)
        if not _passes(copy):
            print("the tests fail with every rule in place: nothing to prove")
            return 1
        for rule, (before, after) in MUTATIONS.items():
            assert source.count(before) == 1, f"{rule}: the rule's text is not found once"
            (copy / RULES).write_text(source.replace(before, after), encoding="utf-8")
            caught = not _passes(copy)
            print(f"{'caught  ' if caught else 'SURVIVED'} {rule}")
            if not caught:
                survived.append(rule)
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main())
