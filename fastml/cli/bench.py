"""``fastml bench``: compare fastml's solvers and scikit-learn's on generated data
(``fastml.demo.run_bench``)."""
from ._output import emit_json, format_table, progress_bar, say


def register(subcommands, common):
    bench = subcommands.add_parser(
        "bench", parents=[common], help="compare the solvers on generated data (table + convergence curves)",
        description="Fit L2 logistic regression with fastml's lbfgs/newton/gd/sgd/adam and scikit-learn's lbfgs "
                    "on generated data; print seconds and objective, write results.csv and curves.csv/png.")
    bench.add_argument("--quick", action="store_true", help="2 000 x 20 rows instead of 50 000 x 50")
    bench.add_argument("--out", default="fastml-bench-output", metavar="DIR",
                       help="folder for results.csv, curves.csv, curves.png (default ./fastml-bench-output)")
    bench.set_defaults(handler=run)


def run(args):
    from ..demo import run_bench
    from ..demo._bench import SOLVERS

    bar = progress_bar(len(SOLVERS) + 1, "fastml bench")
    try:
        result = run_bench(quick=args.quick, out_dir=args.out, progress=bar)
    finally:
        bar.close()
    if args.json:
        emit_json(result)
        return 0
    data = result["data"]
    say(f"L2 logistic regression (C={data['C']}) on {data['n_samples']} x {data['n_features']} generated rows; "
        "seconds exclude compilation")
    say(format_table(result["results"], ["solver", "seconds", "objective", "gap", "n_iter", "accuracy"],
                     floats="{:.6g}"))
    say("wrote " + ", ".join(result["artifacts"].values()))
    return 0
