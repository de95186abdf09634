"""Throughput and rate of inrcodec.coding's entropy coders (docs/design.md, "Tests and benchmarks").

Run: .venv/bin/python benchmarks/bench_entropy.py [--symbols N] [--repeats R]

Per-symbol models (mean, scale indices drawn at random from the v1 tables, symbols drawn
from those models); times include everything the public API does (validation, table
look-ups, serialisation). Prints the best of R runs.
"""

from __future__ import annotations

import argparse
import time
from functools import partial

import numpy as np

from inrcodec.coding import (
    decode_histogram,
    decode_quantized,
    encode_histogram,
    encode_quantized,
    histogram_information_content,
    information_content,
    mean_indices,
    means_from_indices,
    scale_indices,
    scales_from_indices,
)


def best_time(function, argument, repeats: int) -> float:
    """Shortest wall time of ``function(argument)`` over ``repeats`` calls."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function(argument)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=10**6)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    count = args.symbols
    mean_index = mean_indices(rng.normal(0.0, 4.0, count))
    scale_index = scale_indices(np.exp(rng.uniform(np.log(0.2), np.log(40.0), count)))
    means, scales = means_from_indices(mean_index), scales_from_indices(scale_index)
    samples = {
        "gaussian": np.rint(rng.normal(means, scales)).astype(np.int32),
        "laplace": np.rint(rng.laplace(means, scales)).astype(np.int32),
    }

    rows = []
    for distribution, symbols in samples.items():
        model = {"mean_index": mean_index, "scale_index": scale_index, "distribution": distribution}
        rows.append(
            (
                distribution,
                symbols,
                partial(encode_quantized, **model),
                partial(decode_quantized, shape=(count,), **model),
                information_content(symbols, **model).sum(),
            )
        )
    symbols = samples["gaussian"]
    rows.append(
        (
            "histogram",
            symbols,
            encode_histogram,
            partial(decode_histogram, shape=(count,)),
            histogram_information_content(symbols).sum(),
        )
    )

    print(f"{count} symbols, per-symbol models, best of {args.repeats}")
    print(
        f"{'model':<10} {'encode Msym/s':>14} {'decode Msym/s':>14} {'bits/sym':>9} "
        f"{'ideal':>9} {'overhead':>9}"
    )
    for name, symbols, encode, decode, ideal_bits in rows:
        data = encode(symbols)
        assert np.array_equal(decode(data), symbols), f"{name}: round trip failed"
        encode_seconds = best_time(encode, symbols, args.repeats)
        decode_seconds = best_time(decode, data, args.repeats)
        coded, ideal = 8 * len(data) / count, ideal_bits / count
        print(
            f"{name:<10} {count / encode_seconds / 1e6:>14.2f} "
            f"{count / decode_seconds / 1e6:>14.2f} {coded:>9.4f} {ideal:>9.4f} "
            f"{100 * (coded / ideal - 1):>8.3f}%"
        )


if __name__ == "__main__":
    main()
