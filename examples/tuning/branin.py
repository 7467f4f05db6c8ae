#!/usr/bin/env python3
"""The Branin function as a Katib trial: `python3 branin.py --x1=3.14 --x2=2.27` prints `loss=<value>`.

Branin-Hoo on x1 in [-5, 10], x2 in [0, 15] has three global minima, each
0.397887 (at (-pi, 12.275), (pi, 2.275) and (9.42478, 2.475)): a known
optimum that every search algorithm should approach.

Like a training script it can run "epochs": with --epochs N it prints N
lines `epoch <e>: loss=<v>`, the loss falling linearly from f(x) + 5 to f(x)
at the last epoch, so early-stopping rules (medianstop) see a learning curve
and Hyperband has a budget to hand out. Only the standard library is used,
so a trial costs one interpreter start.

Metrics go to stdout (Katib's StdOut collector, `name=value`), or with
--log-path to a file (Katib's File collector): TEXT lines
`{metricName: loss, metricValue: 0.3979}` as Katib's mnist examples log
them, or with --log-format=json one JSON object per line as Katib's JSON
file collector reads them. With --push they go through the ferry SDK's
`ferry.tune.report_metrics` (Katib's Push collector; the only flag that
needs more than the standard library).

Flags for tests: --sleep seconds per epoch; --fail-if CONDITION exits 1
before reporting anything when the condition holds (`always`, or
`x1>0`, `x2<=7.5`, ...); --record FILE appends a JSON line when the trial
starts and when it ends (trial name from $KATIB_TRIAL_NAME, pid, time).
"""
from __future__ import annotations

import argparse
import json
import math
import operator
import os
import re
import sys
import time

OPTIMUM = 0.397887
CURVE = 5.0  # how far above f(x) the first epoch's loss starts

_OPS = {"<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt, "==": operator.eq}
_CONDITION = re.compile(r"^\s*(x1|x2)\s*(<=|>=|==|<|>)\s*([-+]?[0-9.]+(?:[eE][-+]?\d+)?)\s*$")


def branin(x1: float, x2: float) -> float:
    b = 5.1 / (4 * math.pi ** 2)
    c = 5 / math.pi
    t = 1 / (8 * math.pi)
    return (x2 - b * x1 ** 2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


def loss_at(x1: float, x2: float, epoch: int, epochs: int) -> float:
    """The loss after `epoch` of `epochs`: f(x) + CURVE at epoch 0, f(x) at the last."""
    return branin(x1, x2) + CURVE * (epochs - epoch) / epochs


def condition_holds(condition: str, values: dict) -> bool:
    if condition == "always":
        return True
    m = _CONDITION.match(condition)
    if not m:
        raise SystemExit(f"branin.py: --fail-if must be 'always' or like 'x1>0', not {condition!r}")
    return _OPS[m.group(2)](values[m.group(1)], float(m.group(3)))


def record(path: str, event: str) -> None:
    line = json.dumps({"event": event, "trial": os.environ.get("KATIB_TRIAL_NAME", ""), "pid": os.getpid(),
                       "t": time.time()}) + "\n"
    # One write of one short line in append mode: concurrent trials never interleave.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def main(argv: list) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--x1", type=float, required=True)
    p.add_argument("--x2", type=float, required=True)
    p.add_argument("--epochs", type=float, default=1, help="epochs to run (a Hyperband budget may be fractional)")
    p.add_argument("--sleep", type=float, default=0.0, help="seconds to sleep before each epoch's report")
    p.add_argument("--fail-if", default="", help="exit 1 without a metric when this holds: always, x1>0, ...")
    p.add_argument("--metric-name", default="loss")
    p.add_argument("--log-path", default="", help="write metrics to this file instead of stdout")
    p.add_argument("--log-format", choices=("text", "json"), default="text")
    p.add_argument("--push", action="store_true", help="report with ferry.tune.report_metrics (Push collector)")
    p.add_argument("--record", default="", help="append start/end events to this file")
    args = p.parse_args(argv)

    epochs = max(1, int(math.ceil(args.epochs)))
    if args.record:
        record(args.record, "start")
    if args.fail_if and condition_holds(args.fail_if, {"x1": args.x1, "x2": args.x2}):
        print(f"branin.py: failing on purpose: {args.fail_if}", file=sys.stderr, flush=True)
        if args.record:
            record(args.record, "end")
        return 1

    report = None
    if args.push:
        from ferry import tune
        report = tune.report_metrics
    log = None
    if args.log_path:
        os.makedirs(os.path.dirname(os.path.abspath(args.log_path)), exist_ok=True)
        log = open(args.log_path, "a", buffering=1)
    try:
        for epoch in range(1, epochs + 1):
            if args.sleep:
                time.sleep(args.sleep)
            value = loss_at(args.x1, args.x2, epoch, epochs)
            if report is not None:
                report({args.metric_name: value, "epoch": epoch})
            elif log is None:
                print(f"epoch {epoch}: {args.metric_name}={value:.6f}", flush=True)
            elif args.log_format == "json":
                log.write(json.dumps({"epoch": str(epoch), args.metric_name: f"{value:.6f}",
                                      "timestamp": time.time()}) + "\n")
            else:
                stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                log.write(f"{stamp} INFO     {{metricName: {args.metric_name}, metricValue: {value:.6f}}}\n")
    finally:
        if log is not None:
            log.close()
    if args.record:
        record(args.record, "end")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
