"""Run vLLM's own load tool (`vllm.benchmarks.serve`) unchanged: the module has no __main__."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    from vllm.benchmarks.serve import add_cli_args
    from vllm.benchmarks.serve import main as bench_main
    from vllm.utils.argparse_utils import FlexibleArgumentParser

    parser = FlexibleArgumentParser(prog="vllm-bench-serve")
    add_cli_args(parser)
    bench_main(parser.parse_args(argv if argv is not None else sys.argv[1:]))


if __name__ == "__main__":
    main()
