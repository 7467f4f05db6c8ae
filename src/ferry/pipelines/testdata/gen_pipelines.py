#!/usr/bin/env python3
"""Compiles Ferry's KFP pipeline test fixtures with the real kfp compiler.

Run with the pinned SDK:  /work/main/.venv/bin/python gen_pipelines.py
Writes <name>.yaml beside this file, one per pipeline below. Output is
deterministic: rerunning changes nothing (the compiler's output depends only
on the source; no timestamps). The components' Python bodies are real and
cheap: the engine executes them. Bad-input fixtures kfp cannot produce are
hand-written under bad/.
"""

import os
import sys
import warnings
from typing import Dict, List, NamedTuple

from kfp import compiler, dsl
from kfp.dsl import (Artifact, ConcatPlaceholder, Dataset, IfPresentPlaceholder,
                     Input, Metrics, Model, Output, OutputPath,
                     PipelineTaskFinalStatus)

HERE = os.path.dirname(os.path.abspath(__file__))
BASE = 'python:3.11'

warnings.filterwarnings('ignore', category=FutureWarning)

PIPELINES = {}


def fixture(name):
    def register(fn):
        PIPELINES[name] = fn
        return fn
    return register


# ---------------------------------------------------------------- hello_world

@dsl.component(base_image=BASE)
def say_hello(name: str) -> str:
    message = f'Hello, {name}!'
    print(message)
    return message


@fixture('hello_world')
@dsl.pipeline(name='hello-world', description='One lightweight component.')
def hello_world(recipient: str = 'World') -> str:
    task = say_hello(name=recipient)
    return task.output


# -------------------------------------------------------- params_and_artifacts

@dsl.component(base_image=BASE)
def produce(
    text: str,
    count: int,
    ratio: float,
    flag: bool,
    items: list,
    config: dict,
    dataset: Output[Dataset],
    suffix: str = '!',
    scale: float = 2.5,
) -> int:
    rows = [f'{text}{suffix}'] * count
    with open(dataset.path, 'w') as f:
        f.write('\n'.join(rows))
    dataset.metadata['rows'] = len(rows)
    dataset.metadata['ratio'] = ratio * scale
    dataset.metadata['flag'] = flag
    dataset.metadata['items'] = items
    dataset.metadata['config'] = config
    return len(rows) + len(items)


@dsl.component(base_image=BASE)
def consume(dataset: Input[Dataset], total: int) -> str:
    with open(dataset.path) as f:
        lines = f.read().splitlines()
    assert dataset.metadata['rows'] == len(lines), dataset.metadata
    return f'{len(lines)} lines, total {total}'


@fixture('params_and_artifacts')
@dsl.pipeline(name='params-and-artifacts')
def params_and_artifacts(
    label: str,
    text: str = 'hi',
    count: int = 3,
    ratio: float = 0.5,
    flag: bool = True,
    items: list = [1, 2, 3],
    config: dict = {'a': 1, 'b': 'two'},
    note: str = '',
):
    say_hello(name=label)
    p = produce(text=text, count=count, ratio=ratio, flag=flag, items=items,
                config=config)
    consume(dataset=p.outputs['dataset'], total=p.outputs['Output'])


# ----------------------------------------------------------------- condition

@dsl.component(base_image=BASE)
def flip_coin(seed: int) -> str:
    return ['heads', 'tails', 'edge'][seed % 3]


@dsl.component(base_image=BASE)
def random_number(low: int, high: int) -> int:
    return (low + high) // 2


@dsl.component(base_image=BASE)
def announce(message: str) -> str:
    print(message)
    return message


@fixture('condition')
@dsl.pipeline(name='condition')
def condition(seed: int = 0, threshold: int = 5):
    coin = flip_coin(seed=seed)
    with dsl.If(coin.output == 'heads'):
        announce(message='heads!')
    with dsl.Elif(coin.output == 'tails'):
        announce(message='tails!')
    with dsl.Else():
        announce(message='on its edge!')
    num = random_number(low=0, high=10)
    with dsl.If(num.output > threshold):
        announce(message='big')
    with dsl.If(num.output <= threshold):
        announce(message='small')


# -------------------------------------------------------------- parallel_for

@dsl.component(base_image=BASE)
def square(x: int) -> int:
    return x * x


@dsl.component(base_image=BASE)
def add_pair(a: int, b: int) -> int:
    return a + b


@dsl.component(base_image=BASE)
def sum_all(values: List[int]) -> int:
    return sum(values)


@dsl.component(base_image=BASE)
def write_number(x: int, out: Output[Dataset]):
    with open(out.path, 'w') as f:
        f.write(str(x))
    out.metadata['x'] = x


@dsl.component(base_image=BASE)
def concat_files(files: Input[List[Dataset]]) -> str:
    parts = []
    for f in files:
        with open(f.path) as handle:
            parts.append(handle.read())
    return ','.join(sorted(parts))


@fixture('parallel_for')
@dsl.pipeline(name='parallel-for')
def parallel_for(numbers: List[int] = [4, 5, 6]):
    with dsl.ParallelFor(items=[1, 2, 3], parallelism=2) as outer:
        with dsl.ParallelFor(items=[10, 20]) as inner:
            add_pair(a=outer, b=inner)
    with dsl.ParallelFor(items=numbers) as n:
        sq = square(x=n)
        written = write_number(x=n)
    sum_all(values=dsl.Collected(sq.output))
    concat_files(files=dsl.Collected(written.outputs['out']))


# ---------------------------------------------------------------- loop_items

@dsl.component(base_image=BASE)
def describe(label: str, size: str) -> str:
    return f'{label}:{size}'


@fixture('loop_items')
@dsl.pipeline(name='loop-items')
def loop_items(rows: List[dict] = [{'label': 'a', 'size': 'S'},
                                   {'label': 'b', 'size': 'M'}]):
    # Fields of dict items compile to parameterExpressionSelector.
    # (kfp types every field of a raw item like the first one: all strings.)
    with dsl.ParallelFor(items=[{'label': 'x', 'size': 'L'},
                                {'label': 'y', 'size': 'XL'}]) as item:
        describe(label=item.label, size=item.size)
    with dsl.ParallelFor(items=rows, parallelism=1) as row:
        describe(label=row.label, size=row.size)


# -------------------------------------------------------------- exit_handler

@dsl.component(base_image=BASE)
def fail_task(message: str):
    import sys
    print(message)
    sys.exit(1)


@dsl.component(base_image=BASE)
def exit_op(user_input: str, status: PipelineTaskFinalStatus):
    print(user_input)
    print('state:', status.state)
    print('pipeline job:', status.pipeline_job_resource_name)
    print('task:', status.pipeline_task_name)
    print('error:', status.error_code, status.error_message)


@fixture('exit_handler')
@dsl.pipeline(name='exit-handler')
def exit_handler(message: str = 'going down'):
    exit_task = exit_op(user_input='cleaning up')
    with dsl.ExitHandler(exit_task, name='guarded'):
        announce(message=message)
        fail_task(message=message)


# --------------------------------------------------------------------- retry

@dsl.component(base_image=BASE)
def flaky(marker_dir: str, failures: int) -> str:
    import os
    os.makedirs(marker_dir, exist_ok=True)
    attempts = len(os.listdir(marker_dir))
    open(os.path.join(marker_dir, f'attempt-{attempts}'), 'w').close()
    if attempts < failures:
        raise RuntimeError(f'flaky failure {attempts + 1} of {failures}')
    return f'succeeded after {attempts} failures'


@fixture('retry')
@dsl.pipeline(name='retry')
def retry(marker_dir: str = '/tmp/ferry-flaky', failures: int = 2):
    flaky(marker_dir=marker_dir, failures=failures).set_retry(
        num_retries=3, backoff_duration='0s')


# ------------------------------------------------------------------- caching

@dsl.component(base_image=BASE)
def slow_add(a: int, b: int) -> int:
    return a + b


@fixture('caching')
@dsl.pipeline(name='caching')
def caching(a: int = 1, b: int = 2):
    cached = slow_add(a=a, b=b).set_caching_options(True)
    uncached = slow_add(a=cached.output, b=b).set_caching_options(False)
    uncached.set_display_name('uncached-add')


# ------------------------------------------------------------------ packages

@dsl.component(base_image=BASE, packages_to_install=['six==1.16.0'])
def use_six(text: str) -> str:
    import six
    return six.ensure_str(text) + ' via six ' + six.__version__


@fixture('packages')
@dsl.pipeline(name='packages')
def packages(text: str = 'hello'):
    use_six(text=text)


# ----------------------------------------------------------------- container

@dsl.container_component
def echo_container(message: str, out_file: OutputPath(str),
                   greeting: str = 'hello', suffix: str = ''):
    return dsl.ContainerSpec(
        image='alpine:3.19',
        command=['sh', '-c'],
        args=[
            ConcatPlaceholder([
                'mkdir -p "$(dirname "$1")" && echo "$0 ', greeting, ' $GREETING_TARGET" > "$1"',
            ]),
            message,
            out_file,
            IfPresentPlaceholder(input_name='suffix', then=['--suffix', suffix],
                                 else_=['--no-suffix']),
        ],
    )


@dsl.container_component
def cat_container(text: str):
    return dsl.ContainerSpec(image='alpine:3.19', command=['echo'], args=[text])


@fixture('container')
@dsl.pipeline(name='container')
def container(message: str = 'hi'):
    echo = echo_container(message=message, suffix='?')
    echo.set_env_variable('GREETING_TARGET', 'world')
    echo.set_cpu_request('500m').set_memory_request('512Mi')
    echo.set_cpu_limit('1').set_memory_limit('1G')
    echo.set_caching_options(False)
    cat_container(text=echo.outputs['out_file'])


# ---------------------------------------------------------------- nested_dag

@dsl.component(base_image=BASE)
def make_dataset(n: int, data: Output[Dataset]) -> int:
    with open(data.path, 'w') as f:
        f.write('\n'.join(str(i) for i in range(n)))
    data.metadata['n'] = n
    return n * (n - 1) // 2


@dsl.component(base_image=BASE)
def count_lines(data: Input[Dataset]) -> int:
    with open(data.path) as f:
        return len(f.read().splitlines())


@dsl.pipeline(name='inner')
def inner(n: int) -> NamedTuple('Outputs', total=int, data=Dataset):
    made = make_dataset(n=n)
    Outputs = NamedTuple('Outputs', total=int, data=Dataset)
    return Outputs(total=made.outputs['Output'], data=made.outputs['data'])


@fixture('nested_dag')
@dsl.pipeline(name='nested-dag')
def nested_dag(n: int = 4):
    sub = inner(n=n)
    count_lines(data=sub.outputs['data'])
    announce(message='inner done').after(sub)
    add_pair(a=sub.outputs['total'], b=n)


# ------------------------------------------------------------------ importer

@dsl.component(base_image=BASE)
def read_artifact(data: Input[Dataset]) -> str:
    return data.uri


@fixture('importer')
@dsl.pipeline(name='importer')
def importer(uri: str = 'file:///tmp/ferry-importer/data.txt'):
    fixed = dsl.importer(artifact_uri='file:///tmp/ferry-importer/fixed.txt',
                         artifact_class=Dataset, reimport=False,
                         metadata={'source': 'constant'})
    read_artifact(data=fixed.output)
    dynamic = dsl.importer(artifact_uri=uri, artifact_class=Dataset,
                           reimport=True)
    read_artifact(data=dynamic.output)


# --------------------------------------------------------------------- oneof

@dsl.component(base_image=BASE)
def make_text(text: str, out: Output[Artifact]) -> str:
    with open(out.path, 'w') as f:
        f.write(text)
    return text


@fixture('oneof')
@dsl.pipeline(name='oneof')
def oneof(seed: int = 0) -> str:
    coin = flip_coin(seed=seed)
    with dsl.If(coin.output == 'heads'):
        heads = make_text(text='got heads')
    with dsl.Else():
        tails = make_text(text='got tails')
    chosen = dsl.OneOf(heads.outputs['Output'], tails.outputs['Output'])
    announce(message=chosen)
    return chosen


# -------------------------------------------------------------------- chain10

@dsl.component(base_image=BASE)
def increment(x: int) -> int:
    return x + 1


@fixture('chain10')
@dsl.pipeline(name='chain10')
def chain10(start: int = 0) -> int:
    value = start
    task = None
    for _ in range(10):
        task = increment(x=value)
        value = task.output
    return task.output


# ------------------------------------------------------------------ fanout200

@fixture('fanout200')
@dsl.pipeline(name='fanout200')
def fanout200():
    with dsl.ParallelFor(items=list(range(200))) as i:
        increment(x=i)


# ---------------------------------------------------------------------- demo

@dsl.component(base_image=BASE, packages_to_install=[])
def load_wine(data: Output[Dataset]):
    from sklearn.datasets import load_wine as load
    frame = load(as_frame=True).frame
    frame.to_csv(data.path, index=False)
    data.metadata['rows'] = int(frame.shape[0])
    data.metadata['columns'] = int(frame.shape[1])


@dsl.component(base_image=BASE, packages_to_install=[])
def preprocess(data: Input[Dataset], test_size: float, seed: int,
               train: Output[Dataset], test: Output[Dataset]):
    import pandas as pd
    from sklearn.model_selection import train_test_split
    frame = pd.read_csv(data.path)
    tr, te = train_test_split(frame, test_size=test_size, random_state=seed,
                              stratify=frame['target'])
    tr.to_csv(train.path, index=False)
    te.to_csv(test.path, index=False)
    train.metadata['rows'] = int(tr.shape[0])
    test.metadata['rows'] = int(te.shape[0])


@dsl.component(base_image=BASE, packages_to_install=[])
def train_model(train: Input[Dataset], n_estimators: int, seed: int,
                model: Output[Model]):
    import pickle
    import pandas as pd
    from sklearn.ensemble import RandomForestClassifier
    frame = pd.read_csv(train.path)
    clf = RandomForestClassifier(n_estimators=n_estimators, random_state=seed)
    clf.fit(frame.drop(columns=['target']), frame['target'])
    with open(model.path, 'wb') as f:
        pickle.dump(clf, f)
    model.metadata['framework'] = 'sklearn'
    model.metadata['n_estimators'] = n_estimators


@dsl.component(base_image=BASE, packages_to_install=[])
def evaluate(test: Input[Dataset], model: Input[Model],
             metrics: Output[Metrics]) -> float:
    import pickle
    import pandas as pd
    from sklearn.metrics import accuracy_score
    frame = pd.read_csv(test.path)
    with open(model.path, 'rb') as f:
        clf = pickle.load(f)
    accuracy = float(accuracy_score(frame['target'],
                                    clf.predict(frame.drop(columns=['target']))))
    metrics.log_metric('accuracy', accuracy)
    metrics.log_metric('test_rows', int(frame.shape[0]))
    return accuracy


@fixture('demo')
@dsl.pipeline(name='wine-demo',
              description='Wine classification: load, preprocess, train, evaluate.')
def demo(test_size: float = 0.25, seed: int = 42, n_estimators: int = 50) -> float:
    data = load_wine()
    split = preprocess(data=data.outputs['data'], test_size=test_size, seed=seed)
    model = train_model(train=split.outputs['train'], n_estimators=n_estimators,
                        seed=seed)
    result = evaluate(test=split.outputs['test'], model=model.outputs['model'])
    return result.outputs['Output']


def main(argv):
    wanted = set(argv[1:])
    for name, pipeline in PIPELINES.items():
        if wanted and name not in wanted:
            continue
        path = os.path.join(HERE, f'{name}.yaml')
        compiler.Compiler().compile(pipeline_func=pipeline, package_path=path)
        print(path)


if __name__ == '__main__':
    main(sys.argv)
