"""Draw the scale bench's figures (`cargo bench --bench pipeline -- --scale`) as one PNG.

    python benches/plot_scale.py [target/bench-scale.csv] [docs/img/scale.png]

Three panels over the events in the history (log scale): the full refreshes' seconds per million
events (flat where the time grows with the events), the incremental runs' seconds (flat where they
do not grow with the history), and every step's peak RSS beside the memory limit. Needs
matplotlib (scripts/plot-venv.sh prints a python that has it).
"""

import csv
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

MEMORY_LIMIT_GIB = 2
RSS_TARGET_GIB = 3


def main() -> None:
    source = sys.argv[1] if len(sys.argv) > 1 else "target/bench-scale.csv"
    target = sys.argv[2] if len(sys.argv) > 2 else "docs/img/scale.png"
    steps: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    with open(source, newline="") as file:
        for row in csv.DictReader(file):
            millions = int(row["events"]) / 1e6
            steps[row["step"]].append(
                (millions, float(row["seconds"]), float(row["peak_rss_mib"]) / 1024)
            )
    figure, (full, incremental, memory) = plt.subplots(1, 3, figsize=(14, 4.4))
    for step, points in steps.items():
        points.sort()
        events = [p[0] for p in points]
        if step.startswith("full refresh"):
            full.plot(events, [p[1] / p[0] for p in points], marker="o", label=step)
        else:
            incremental.plot(events, [p[1] for p in points], marker="o", label=step)
        memory.plot(events, [p[2] for p in points], marker="o", label=step)
    memory.axhline(MEMORY_LIMIT_GIB, color="grey", linestyle="--", label="memory_limit 2GB")
    memory.axhline(RSS_TARGET_GIB, color="red", linestyle=":", label="target: under 3 GiB")
    for axis, title, unit in (
        (full, "full refresh: time per million events", "seconds per million events"),
        (incremental, "incremental runs (83,333-event day)", "seconds"),
        (memory, "peak RSS", "GiB"),
    ):
        axis.set_xscale("log")
        axis.set_xlabel("events in the history (millions)")
        axis.set_ylabel(unit)
        axis.set_title(title)
        axis.set_ylim(bottom=0)
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=8)
    figure.suptitle("sigbatch on DuckDB: the fixture's group, threads: 2, 83,333 events a load day")
    figure.tight_layout()
    figure.savefig(target, dpi=100)
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
