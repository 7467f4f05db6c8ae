#!/usr/bin/env python3
"""Compiles the engine's own test pipelines with the real kfp compiler.

Run with the pinned SDK:  /work/main/.venv/bin/python gen_engine_pipelines.py
Writes <name>.yaml beside this file. These are container components only
(plain `sh`), so they need no Python environment and run in milliseconds;
they exercise engine behaviour the general fixtures in ../ cover only with
lightweight Python components: retries of a flaky shell step, parallelism
limits with timestamps, cancellation and crash recovery of sleeping steps,
exit handlers seeing a failure, conditions, caching with a counter file and
artifact passing. Every step appends a line to a counter file named by a
parameter, so a test can tell how often it really ran.
"""

import os
from typing import List

from kfp import compiler, dsl
from kfp.dsl import Dataset, Input, Output, OutputPath, PipelineTaskFinalStatus

HERE = os.path.dirname(os.path.abspath(__file__))
IMAGE = 'alpine:3.19'
PIPELINES = {}


def fixture(name):
    def register(fn):
        PIPELINES[name] = fn
        return fn
    return register


# A step that appends its name to `counter`, fails while it has run fewer
# than `failures` times, then writes the run count to `out`.
@dsl.container_component
def flaky_step(counter: str, failures: int, out: OutputPath(int)):
    return dsl.ContainerSpec(
        image=IMAGE, command=['sh', '-c'],
        args=['echo flaky >> "$0"; n=$(wc -l < "$0"); '
              'if [ "$n" -le "$1" ]; then echo "failing run $n" >&2; exit 3; fi; '
              'echo "$n" > "$2"', counter, failures, out])


@dsl.container_component
def add_step(counter: str, a: int, b: int, out: OutputPath(int)):
    return dsl.ContainerSpec(
        image=IMAGE, command=['sh', '-c'],
        args=['echo add >> "$0"; echo $(($1 + $2)) > "$3"', counter, a, b, out])


# Sleeps `seconds`, recording start and end (date +%s%N) in `log`.
@dsl.container_component
def sleep_step(log: str, seconds: float, x: int, out: OutputPath(int)):
    return dsl.ContainerSpec(
        image=IMAGE, command=['sh', '-c'],
        args=['echo "start $2 $(date +%s%N)" >> "$0"; sleep "$1"; '
              'echo "end $2 $(date +%s%N)" >> "$0"; echo $(($2 * 2)) > "$3"',
              log, seconds, x, out])


@dsl.container_component
def sum_step(values: List[int], out: OutputPath(str)):
    return dsl.ContainerSpec(
        image=IMAGE, command=['sh', '-c'], args=['echo "$0" > "$1"', values, out])


@dsl.container_component
def fail_step(counter: str, code: int):
    return dsl.ContainerSpec(
        image=IMAGE, command=['sh', '-c'],
        args=['echo fail >> "$0"; echo "about to fail" >&2; exit "$1"', counter, code])


@dsl.container_component
def status_step(counter: str, status: PipelineTaskFinalStatus, out: OutputPath(str)):
    return dsl.ContainerSpec(
        image=IMAGE, command=['sh', '-c'],
        args=['echo status >> "$0"; printf "%s" "$1" > "$2"', counter, status, out])


@dsl.container_component
def echo_step(counter: str, text: str, out: OutputPath(str)):
    return dsl.ContainerSpec(
        image=IMAGE, command=['sh', '-c'],
        args=['echo echo >> "$0"; printf "%s" "$1" > "$2"', counter, text, out])


@dsl.container_component
def write_data(counter: str, text: str, data: Output[Dataset]):
    return dsl.ContainerSpec(
        image=IMAGE, command=['sh', '-c'],
        args=['echo write >> "$0"; printf "%s" "$1" > "$2"', counter, text, data.path])


@dsl.container_component
def read_data(counter: str, data: Input[Dataset], out: OutputPath(str)):
    return dsl.ContainerSpec(
        image=IMAGE, command=['sh', '-c'],
        args=['echo read >> "$0"; cat "$1" > "$2"', counter, data.path, out])


@fixture('flaky')
@dsl.pipeline(name='engine-flaky')
def flaky(counter: str, failures: int = 2):
    # num_retries must be a constant; the test varies `failures`.
    flaky_step(counter=counter, failures=failures).set_retry(
        num_retries=3, backoff_duration='0s', backoff_factor=2)


@fixture('sum_chain')
@dsl.pipeline(name='engine-sum-chain')
def sum_chain(counter: str, a: int = 1, b: int = 2) -> int:
    first = add_step(counter=counter, a=a, b=b)
    second = add_step(counter=counter, a=first.output, b=10)
    return second.output


@fixture('uncached_chain')
@dsl.pipeline(name='engine-uncached-chain')
def uncached_chain(counter: str, a: int = 1, b: int = 2):
    first = add_step(counter=counter, a=a, b=b)
    second = add_step(counter=counter, a=first.output, b=10)
    second.set_caching_options(False)


@fixture('loop')
@dsl.pipeline(name='engine-loop')
def loop(log: str, items: List[int] = [1, 2, 3, 4, 5], seconds: float = 0.3):
    with dsl.ParallelFor(items=items, parallelism=2) as item:
        s = sleep_step(log=log, seconds=seconds, x=item)
        s.set_caching_options(False)
    sum_step(values=dsl.Collected(s.output)).set_caching_options(False)


@fixture('sleeper')
@dsl.pipeline(name='engine-sleeper')
def sleeper(log: str, counter: str, seconds: float = 2.0):
    s = sleep_step(log=log, seconds=seconds, x=21)
    s.set_caching_options(False)
    after = add_step(counter=counter, a=s.output, b=0)
    after.set_caching_options(False)


@fixture('exit')
@dsl.pipeline(name='engine-exit')
def exit_pipeline(counter: str, code: int = 3):
    final = status_step(counter=counter)
    final.set_caching_options(False)
    with dsl.ExitHandler(final, name='guarded'):
        e = echo_step(counter=counter, text='before')
        e.set_caching_options(False)
        f = fail_step(counter=counter, code=code).after(e)
        f.set_caching_options(False)
        never = echo_step(counter=counter, text='never').after(f)
        never.set_caching_options(False)


@fixture('condition')
@dsl.pipeline(name='engine-condition')
def condition(counter: str, word: str = 'yes'):
    e = echo_step(counter=counter, text=word)
    e.set_caching_options(False)
    with dsl.If(e.output == 'yes'):
        y = echo_step(counter=counter, text='took yes')
        y.set_caching_options(False)
    with dsl.Else():
        n = echo_step(counter=counter, text='took no')
        n.set_caching_options(False)


@fixture('artifacts')
@dsl.pipeline(name='engine-artifacts')
def artifacts(counter: str, text: str = 'payload 42'):
    w = write_data(counter=counter, text=text)
    w.set_caching_options(False)
    r = read_data(counter=counter, data=w.outputs['data'])
    r.set_caching_options(False)


@fixture('retry_then_fail')
@dsl.pipeline(name='engine-retry-then-fail')
def retry_then_fail(counter: str, fail_counter: str, failures: int = 1):
    # `flaky` fails `failures` times with no retries; `add` after it.
    f = flaky_step(counter=fail_counter, failures=failures)
    f.set_caching_options(False)
    ok = add_step(counter=counter, a=1, b=1)
    ok.set_caching_options(False)
    after = add_step(counter=counter, a=f.output, b=ok.output)
    after.set_caching_options(False)


# Trivial steps for measuring the engine's own overhead per task.
@dsl.container_component
def inc_step(x: int, out: OutputPath(int)):
    return dsl.ContainerSpec(
        image=IMAGE, command=['sh', '-c'], args=['echo $(($0 + 1)) > "$1"', x, out])


def chain_of(n):
    def chain(start: int = 0) -> int:
        value = start
        task = None
        for _ in range(n):
            task = inc_step(x=value)
            task.set_caching_options(False)
            value = task.output
        return task.output
    return chain


fixture('chain10')(dsl.pipeline(name='engine-chain10')(chain_of(10)))
fixture('chain100')(dsl.pipeline(name='engine-chain100')(chain_of(100)))


@fixture('fanout')
@dsl.pipeline(name='engine-fanout')
def fanout(items: List[int] = [1, 2, 3]):
    with dsl.ParallelFor(items=items) as i:
        inc_step(x=i).set_caching_options(False)


if __name__ == '__main__':
    for name, fn in PIPELINES.items():
        compiler.Compiler().compile(fn, os.path.join(HERE, name + '.yaml'))
