"""pip's install report (--dry-run --report FILE) -> a lock of exact pins, the project excluded.

python requirements/report_to_lock.py REPORT LOCK
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(report: str, lock: str) -> None:
    path = Path(lock)
    header = [line for line in path.read_text().splitlines() if line.startswith("#")]
    installs = json.loads(Path(report).read_text())["install"]
    pins = sorted(
        f"{i['metadata']['name']}=={i['metadata']['version']}"
        for i in installs
        if i["metadata"]["name"].lower() != "llm-deploy"
    )
    path.write_text("\n".join([*header, *pins]) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:3])
