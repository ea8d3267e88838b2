"""``make bench``: every benchmark, each printed as a table of ratios against its baseline."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    from bench import (
        analysis_bench,
        coupon_bench,
        fanout_bench,
        load_bench,
        segmentation_bench,
        uplift_bench,
        webhook_bench,
    )

    args = argv if argv is not None else sys.argv[1:]
    webhook_bench.main(args)
    print()
    segmentation_bench.main(args)
    print()
    analysis_bench.main(args)
    print()
    uplift_bench.main(args)
    print()
    coupon_bench.main(args)
    print()
    load_bench.main(args)
    print()
    fanout_bench.main(args)


if __name__ == "__main__":
    main()
