"""``fastml demo``: the whole lifecycle of a model (``fastml.demo.run_demo``)."""
import sys

from ._output import emit_json, progress_bar, say

STEPS = 9


def register(subcommands, common):
    demo = subcommands.add_parser(
        "demo", parents=[common], help="run the whole lifecycle of a model on a built-in data set",
        description="Define the task, split, fit several models and solvers and compare them, cross-validate, "
                    "tune the decision threshold, save, reload, serve in-process, simulate drifted traffic, "
                    "detect it, retrain and compare. --case spam: the same on a synthetic text corpus.")
    demo.add_argument("--case", choices=("tabular", "spam"), default="tabular",
                      help="tabular: scikit-learn's breast_cancer (default); spam: synthetic messages, sparse text")
    demo.add_argument("--out", default=None, metavar="DIR",
                      help="folder for the artifacts (default ./fastml-demo-output)")
    demo.add_argument("--quick", action="store_true", help="smaller and faster (for CI)")
    demo.set_defaults(handler=run)


def run(args):
    from ..demo import DEFAULT_OUT_DIR, run_demo

    if args.json:  # stdout holds only the document: the narrative goes to a progress bar, if any
        bar = progress_bar(STEPS, f"fastml demo ({args.case})")

        def progress(line):
            if line[:2].rstrip(".").isdigit():
                bar.update(1)
    else:
        bar = None
        print(f"fastml demo ({args.case}): artifacts go to {args.out or DEFAULT_OUT_DIR}/{args.case}/", flush=True)

        def progress(line):
            say(line)
    try:
        summary = run_demo(args.case, out_dir=args.out, quick=args.quick, progress=progress)
    finally:
        if bar is not None:
            bar.close()
    if args.json:
        emit_json(summary)
    sys.stdout.flush()
    return 0
