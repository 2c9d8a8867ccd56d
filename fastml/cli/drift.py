"""``fastml drift MODEL NEW_DATA``: test new rows against the model's stored fingerprint
(``fastml.tabular.drift_table`` over ``fastml.check_drift``)."""
import os

from ._output import EXIT_DRIFT, CommandError, emit_json, say


def register(subcommands, common):
    drift = subcommands.add_parser(
        "drift", parents=[common], help="check new data for drift against a saved model's fingerprint",
        description="Test every feature (and the model's scores) of NEW_DATA against the reference fingerprint "
                    "stored in the model file; Holm-corrected, family-wise false-positive rate <= alpha.")
    drift.add_argument("model")
    drift.add_argument("new_data", help="CSV or Parquet file with the model's feature columns")
    drift.add_argument("--alpha", type=float, default=0.05, help="family-wise false-positive rate (default 0.05)")
    drift.add_argument("--fail-on-drift", action="store_true", help="exit with code 3 when drift is detected")
    drift.set_defaults(handler=run_drift)


def run_drift(args):
    from ..tabular import drift_table

    if not os.path.isfile(args.model):
        raise CommandError(f"no such model file: {args.model!r}")
    if not 0 < args.alpha < 1:
        raise CommandError(f"--alpha must be in (0, 1), got {args.alpha}")
    report = drift_table(args.model, args.new_data, alpha=args.alpha)
    if args.json:
        emit_json(report.to_dict())
    else:
        say(str(report))
    return EXIT_DRIFT if args.fail_on_drift and report.drift_detected else 0
