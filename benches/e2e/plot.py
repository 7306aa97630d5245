"""The results plot: median throughput (top) and latency p50/p99/p99.9 (bottom) per workload,
one colour per series (broker and load generator). Imported only when matplotlib is
available; `report.plot` is the entry point."""

MARKERS = (("p50_ms", "o", "p50"), ("p99_ms", "^", "p99"), ("p999_ms", "s", "p99.9"))


def columns(summary):
    """Workloads in run order, W4's consumers as their own column, and the series."""
    names, all_series = [], []
    for s in summary:
        if s["workload"] not in names:
            names.append(s["workload"])
            if s.get("consume_mb_per_s") is not None:
                names.append(s["workload"] + " consume")
        label = s.get("series", s["broker"])
        if label not in all_series:
            all_series.append(label)
    return names, all_series


def value(summary, series, column, field):
    """The median of `field` for one series and column (a workload or "W4 consume")."""
    name, _, side = column.partition(" ")
    for s in summary:
        if s["workload"] == name and s.get("series", s["broker"]) == series:
            return s.get(("consume_" if side else "") + field)
    return None


def figure(plt, results):
    summary = [s for s in results["summary"] if s.get("runs")]
    if not summary:
        return None
    names, all_series = columns(summary)
    width = 0.8 / len(all_series)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(max(8, 1.1 * len(names)), 8), sharex=True)
    for i, label in enumerate(all_series):
        xs = [j + (i - (len(all_series) - 1) / 2) * width for j in range(len(names))]
        mb = [value(summary, label, c, "mb_per_s") or 0 for c in names]
        top.bar(xs, mb, width, label=label, color=f"C{i}")
        for field, marker, _ in MARKERS:
            points = [(x, value(summary, label, c, field)) for x, c in zip(xs, names)]
            points = [(x, v) for x, v in points if v]
            if points:
                bottom.scatter(*zip(*points), marker=marker, color=f"C{i}", s=28)
    top.set_ylabel("MiB/s of values (median)")
    top.set_title(f"Fjord end to end, {results['date']} ({results['settings'].get('runs')} runs, "
                  f"{results['settings'].get('duration')} s each)")
    top.legend(fontsize="small")
    top.grid(axis="y", alpha=0.3)
    bottom.set_yscale("log")
    bottom.set_ylabel("latency ms (median of runs), log scale")
    bottom.grid(axis="y", alpha=0.3, which="both")
    for field, marker, text in MARKERS:
        bottom.scatter([], [], marker=marker, color="grey", label=text)
    bottom.legend(fontsize="small")
    bottom.set_xticks(range(len(names)))
    bottom.set_xticklabels(names, rotation=30, ha="right")
    fig.tight_layout()
    return fig
