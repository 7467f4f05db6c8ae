#!/usr/bin/env python3
"""Compiles the command shapes of KFP lightweight Python components with the
real kfp compiler, for python_env_test.cc.

Run with the pinned SDK:  /work/main/.venv/bin/python gen_lightweight_commands.py
Writes lightweight_commands.json beside this file: one case per set of
@dsl.component options, each with the executor's `command` + `args` as the
compiler emits them and what Ferry must recognise in them. The expectations
are written here from the decorator's arguments, not from Ferry's parser.
Deterministic: rerunning changes nothing.
"""

import json
import os
import subprocess
import tempfile
import warnings

from kfp import compiler, dsl

HERE = os.path.dirname(os.path.abspath(__file__))
warnings.filterwarnings('ignore')


def add(a: float, b: float) -> float:
    return a + b


def is_kfp_requirement(package):
    # What Ferry drops: a plain `kfp` requirement (the base interpreter has kfp).
    name = package
    for sep in '=<>!~;@ ':
        name = name.split(sep)[0]
    return name.strip().lower() == 'kfp'


FAKE_PYTHON3 = '''#!/bin/sh
printf '%s\\0' "$#" "$@" >> "$TRACE"
if [ "$1" = -m ] && [ "$2" = venv ]; then mkdir -p "$3/bin" && : > "$3/bin/activate"; fi
'''


def trace(argv):
    """Runs the compiled command through the real sh with a fake python3 on
    PATH that records its argv: what pip and executor_main really receive."""
    with tempfile.TemporaryDirectory() as tmp:
        os.mkdir(os.path.join(tmp, 'bin'))
        fake = os.path.join(tmp, 'bin', 'python3')
        with open(fake, 'w') as f:
            f.write(FAKE_PYTHON3)
        os.chmod(fake, 0o755)
        trace_file = os.path.join(tmp, 'trace')
        open(trace_file, 'w').close()
        env = {'PATH': os.path.join(tmp, 'bin') + ':/bin:/usr/bin', 'TRACE': trace_file}
        subprocess.run(argv, env=env, cwd=tmp, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        words = open(trace_file, encoding='utf-8').read().split('\0')[:-1]
    calls = []
    while words:
        n = int(words[0])
        calls.append(words[1:1 + n])
        words = words[1 + n:]
    return calls


def split_pip_call(call):
    # python3 -m pip install --quiet --no-warn-script-location [options] words
    assert call[:5] == ['-m', 'pip', 'install', '--quiet', '--no-warn-script-location'], call
    rest = call[5:]
    options = []
    while rest and rest[0] in ('--index-url', '--extra-index-url', '--trusted-host'):
        options += rest[:2]
        rest = rest[2:]
    return options, rest


# name -> (decorator kwargs, recognised as lightweight?)
CASES = {
    'plain': ({}, True),
    'packages': ({'packages_to_install': ['six==1.17.0', 'tomli>=2,<3']}, True),
    'quoting': ({'packages_to_install': [
        "odd'name", 'with"double', 'back\\slash', 'sp ace==1',
        'typing-extensions>=4; python_version<"3.12"']}, True),
    'index_urls': ({'packages_to_install': ['six'],
                    'pip_index_urls': ['https://a.example/simple',
                                       'https://b.example/simple']}, True),
    'trusted_hosts': ({'packages_to_install': ['six'],
                       'pip_index_urls': ['https://a.example/simple'],
                       'pip_trusted_hosts': ['a.example', 'c.example']}, True),
    'no_trusted_hosts': ({'packages_to_install': ['six'],
                          'pip_index_urls': ['https://a.example/simple'],
                          'pip_trusted_hosts': []}, True),
    'index_urls_without_packages': ({'pip_index_urls': ['https://a.example/simple']},
                                    True),
    'use_venv': ({'packages_to_install': ['six'], 'use_venv': True}, True),
    'use_venv_without_packages': ({'use_venv': True}, True),
    'kfp_package_path': ({'packages_to_install': ['six'],
                          'kfp_package_path': '/wheels/kfp-2.16.1.tar.gz'}, True),
    'kfp_package_path_venv': ({'kfp_package_path': 'git+https://github.com/kubeflow/pipelines#subdirectory=sdk/python',
                               'use_venv': True}, True),
    'no_kfp_install': ({'install_kfp_package': False}, True),
    'no_kfp_install_packages': ({'install_kfp_package': False,
                                 'packages_to_install': ['six']}, True),
    'user_kfp': ({'packages_to_install': ['kfp==2.16.1', 'six']}, True),
    'user_kfp_kubernetes': ({'packages_to_install': ['kfp-kubernetes', 'six']}, True),
    'user_kfp_extras': ({'packages_to_install': ['kfp[kubernetes]>=2']}, True),
    'shell_specials': ({'packages_to_install': ["it's\\x", 'a$b', '`x`', 'c;d']}, True),
    # Python's repr escapes a quote when a name has both kinds: sh cannot
    # parse the result. Ferry leaves it to sh (and its syntax error).
    'broken_quoting': ({'packages_to_install': ['both\'"']}, False),
    # A double-quoted name with `$` would be expanded by sh: run as written.
    'expansion': ({'packages_to_install': ["it's $HOME"]}, False),
    # Containerized components run code baked into an image: not recognised.
    'target_image': ({'target_image': 'registry.example/add:1',
                      'packages_to_install': ['six']}, False),
    'target_image_plain': ({'target_image': 'registry.example/add:1'}, False),
}


def main():
    cases = []
    for name, (kwargs, lightweight) in CASES.items():
        component = dsl.component(**kwargs)(add)
        container = component.component_spec.implementation.container
        case = {
            'name': name,
            'options': kwargs,
            'command': list(container.command),
            'args': list(container.args),
            'lightweight': lightweight,
        }
        if lightweight:
            argv = case['command'] + [a.replace('{{$}}', '{}') for a in case['args']]
            calls = trace(argv)
            pip_calls = [split_pip_call(c) for c in calls if c[:3] == ['-m', 'pip', 'install']]
            executor = [c for c in calls if c[:2] == ['-m', 'kfp.dsl.executor_main']]
            assert len(executor) == 1, calls
            packages, options = [], []
            if kwargs.get('packages_to_install'):
                options, words = pip_calls[0]
                packages = [w for w in words if not is_kfp_requirement(w)]
            elif pip_calls:
                options = pip_calls[0][0]
            case['packages'] = packages
            case['pip_options'] = options
            # executor_main's argv after --component_module_path <file>.
            case['executor_args'] = executor[0][4:]
        cases.append(case)
    with open(os.path.join(HERE, 'lightweight_commands.json'), 'w') as f:
        json.dump(cases, f, indent=1, sort_keys=True)
        f.write('\n')


if __name__ == '__main__':
    main()
