"""``fastml train``, ``predict``, ``evaluate`` and ``info``: shells over ``fastml.tabular`` and
``fastml.inspect``."""
import os

from ._output import CommandError, emit_json, say


def register(subcommands, common):
    train = subcommands.add_parser(
        "train", parents=[common], help="train a model on a CSV/Parquet table and save it",
        description="Train Pipeline(preprocessing, fastml estimator) on a table and save it (pickle-free). "
                    "Numeric columns: median imputation + standardization; other columns: one-hot encoding.")
    train.add_argument("data", help="CSV or Parquet file (Parquet needs pyarrow)")
    train.add_argument("--target", required=True, help="the column to predict")
    train.add_argument("--model", default="auto",
                       help="fastml estimator class (default auto: LogisticRegression for labels, else Ridge)")
    train.add_argument("--param", action="append", default=[], metavar="K=V",
                       help="estimator parameter, repeatable (e.g. --param C=0.5 --param solver=newton)")
    train.add_argument("--cv", type=int, default=None, metavar="K", help="cross-validate with K folds first")
    train.add_argument("--out", default="model.fastml", help="model file to write (default model.fastml)")
    train.set_defaults(handler=run_train)

    predict = subcommands.add_parser("predict", parents=[common], help="predict a table with a saved model")
    predict.add_argument("model", help="model file written by fastml train or fastml.save")
    predict.add_argument("data", help="CSV or Parquet file with the model's feature columns")
    predict.add_argument("--out", default=None, help="write predictions to this CSV (default: stdout)")
    predict.add_argument("--proba", action="store_true", help="add one probability column per class")
    predict.set_defaults(handler=run_predict)

    evaluate = subcommands.add_parser("evaluate", parents=[common], help="evaluate a saved model on a labelled table")
    evaluate.add_argument("model")
    evaluate.add_argument("data")
    evaluate.add_argument("--target", required=True, help="the column holding the true values")
    evaluate.add_argument("--report", default=None, metavar="OUT.html", help="write the HTML report here")
    evaluate.set_defaults(handler=run_evaluate)

    info = subcommands.add_parser("info", parents=[common], help="describe a model file (without loading it)")
    info.add_argument("model")
    info.set_defaults(handler=run_info)


def _check_model_path(path):
    if not os.path.isfile(path):
        raise CommandError(f"no such model file: {path!r}")


def run_train(args):
    from ..tabular import parse_params, train_table

    if args.cv is not None and args.cv < 2:
        raise CommandError(f"--cv must be at least 2, got {args.cv}")
    _, summary = train_table(args.data, args.target, model=args.model, params=parse_params(args.param),
                             cv=args.cv, out=args.out)
    if args.json:
        emit_json(summary)
        return 0
    say(f"trained {summary['model']} ({summary['task']}) on {summary['n_rows']} rows, {summary['n_columns']} "
        f"columns -> {summary['n_features']} features in {summary['fit_seconds']:.3f} s")
    if "cv" in summary:
        mean, std = summary["cv"]["mean"], summary["cv"]["std"]
        shown = [k for k in ("accuracy", "roc_auc", "log_loss", "r2", "rmse") if k in mean]
        say(f"{summary['cv']['folds']}-fold cross-validation: "
            + ", ".join(f"{k} {mean[k]:.4f} ± {std[k]:.4f}" for k in shown if mean[k] is not None))
    shown = [k for k in ("accuracy", "log_loss", "r2", "rmse") if k in summary["train_metrics"]]
    say("training-set metrics: " + ", ".join(f"{k} {summary['train_metrics'][k]:.4f}" for k in shown))
    say(f"saved {summary['path']}")
    return 0


def run_predict(args):
    from ..tabular import predict_table

    _check_model_path(args.model)
    frame = predict_table(args.model, args.data, proba=args.proba)
    if args.out is not None:
        frame.to_csv(args.out, index=False)
    if args.json:
        document = {"n_rows": int(len(frame)), "columns": list(frame.columns)}
        if args.out is None:
            document["predictions"] = frame["prediction"].tolist()
            if args.proba:
                document["probabilities"] = frame.drop(columns=["prediction"]).to_numpy().tolist()
        else:
            document["path"] = args.out
        emit_json(document)
    elif args.out is None:
        print(frame.to_csv(index=False), end="")
    else:
        say(f"wrote {len(frame)} predictions to {args.out}")
    return 0


def run_evaluate(args):
    from ..tabular import evaluate_table

    _check_model_path(args.model)
    report = evaluate_table(args.model, args.data, args.target, report=args.report)
    if args.json:
        document = report.to_dict()
        if args.report:
            document["report_path"] = args.report
        emit_json(document)
        return 0
    say(str(report))
    if args.report:
        say(f"HTML report: {args.report}")
    return 0


def run_info(args):
    import fastml

    _check_model_path(args.model)
    manifest = fastml.inspect(args.model)
    summary = {key: manifest.get(key) for key in ("estimator", "fitted", "format_version", "created_by",
                                                   "feature_names", "classes", "training")}
    summary["has_fingerprint"] = manifest.get("fingerprint") is not None
    summary["n_arrays"] = len(manifest.get("arrays", []))
    summary["size_bytes"] = os.path.getsize(args.model)
    if args.json:
        emit_json({"path": args.model, **summary, "manifest": manifest})
        return 0
    say(f"{args.model}: {summary['estimator']} ({'fitted' if summary['fitted'] else 'not fitted'}), "
        f"{summary['size_bytes']} bytes, format {summary['format_version']}")
    names = summary["feature_names"]
    if names:
        shown = ", ".join(map(str, names[:8])) + (f", ... ({len(names)} in all)" if len(names) > 8 else "")
        say(f"features: {shown}")
    if summary["classes"] is not None:
        say(f"classes: {summary['classes']}")
    if isinstance(summary["created_by"], dict):
        say("created by: " + ", ".join(f"{k} {v}" for k, v in summary["created_by"].items()))
    if isinstance(summary["training"], dict):
        say("training: " + ", ".join(f"{k}={v}" for k, v in summary["training"].items()
                                     if not isinstance(v, (dict, list))))
    say(f"drift fingerprint: {'yes' if summary['has_fingerprint'] else 'no'}")
    return 0

