"""`python -m safety.card.readme CARD.json ...`: the README's card summaries, between the
`cards:start` and `cards:end` markers (make cards runs it)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from safety.card.report import summary

README = Path(__file__).resolve().parents[2] / "README.md"
START, END = "<!-- cards:start -->", "<!-- cards:end -->"


def main(argv: list[str] | None = None) -> None:
    paths = [Path(a) for a in (argv if argv is not None else sys.argv[1:])]
    blocks = []
    for path in paths:
        card = json.loads(path.read_text())
        full = path.with_suffix(".md").as_posix()
        blocks += [*summary(card), "", f"Full card: [{full}]({full}).", ""]
        blocks += [f"![{path.parent.name}]({path.with_suffix('.png').as_posix()})", ""]
    text = README.read_text()
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    README.write_text(f"{head}{START}\n" + "\n".join(blocks) + f"{END}{tail}")


if __name__ == "__main__":
    main()
