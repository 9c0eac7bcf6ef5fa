"""Draw the scale bench's figures (`cargo bench --bench pipeline -- --scale`) as one PNG.

    python benches/plot_scale.py [target/bench-scale.csv] [docs/img/scale.png]

Two panels over the number of events (log scale): the seconds per million events of each step,
and each step's peak RSS with the memory limit drawn in. Needs matplotlib (scripts/plot-venv.sh).
"""

import csv
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

MEMORY_LIMIT_MIB = 2048


def main() -> None:
    source = sys.argv[1] if len(sys.argv) > 1 else "target/bench-scale.csv"
    target = sys.argv[2] if len(sys.argv) > 2 else "docs/img/scale.png"
    steps: dict[str, list[tuple[int, float, float]]] = defaultdict(list)
    with open(source, newline="") as file:
        for row in csv.DictReader(file):
            steps[row["step"]].append(
                (int(row["events"]), float(row["seconds"]), float(row["peak_rss_mib"]))
            )
    figure, (per_million, memory) = plt.subplots(1, 2, figsize=(11, 4.2))
    for step, points in steps.items():
        points.sort()
        events = [p[0] / 1e6 for p in points]
        per_million.plot(events, [p[1] / (p[0] / 1e6) for p in points], marker="o", label=step)
        memory.plot(events, [p[2] / 1024 for p in points], marker="o", label=step)
    memory.axhline(MEMORY_LIMIT_MIB / 1024, color="grey", linestyle="--", label="memory_limit 2GB")
    memory.axhline(3, color="red", linestyle=":", label="target: under 3 GiB")
    for axis, title, unit in (
        (per_million, "time per million events", "seconds per million events"),
        (memory, "peak RSS", "GiB"),
    ):
        axis.set_xscale("log")
        axis.set_xlabel("events in the history (millions)")
        axis.set_ylabel(unit)
        axis.set_title(title)
        axis.grid(True, which="both", alpha=0.3)
    per_million.set_yscale("log")
    memory.legend(fontsize=8)
    figure.suptitle("sigbatch on DuckDB, the fixture's group, threads: 2 (83,333 events a load day)")
    figure.tight_layout()
    figure.savefig(target, dpi=110)
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
