#!/usr/bin/python3
# test-deploy.py: the example front-end configurations of docs/deploy.md
# (data/deploy/) are accepted by the real programs: `nginx -t` and
# `haproxy -c`, run on copies in a temporary directory.
#
# SPDX-License-Identifier: LGPL-2.1-or-later
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
DEPLOY = os.path.join(HERE, '..', 'data', 'deploy')
REQUIRED = os.environ.get('TICKHUB_TEST_REQUIRE_CLIENTS') == '1'

n = 0


def report(ok, what, detail=''):
    global n
    n += 1
    print(('ok' if ok else 'not ok') + f' {n} - {what}')
    if detail and not ok:
        for line in detail.splitlines():
            print('# ' + line)
    return ok


def find(program):
    path = shutil.which(program) or (os.path.exists('/usr/sbin/' + program) and '/usr/sbin/' + program)
    return path or None


def check(program, argv_of, config, expect_fail_with=None):
    path = find(program)
    if path is None:
        if REQUIRED:
            report(False, f'{program} is installed (setup.sh installs it)')
        else:
            global n
            n += 1
            print(f'ok {n} - {program} # SKIP not installed')
        return
    with tempfile.TemporaryDirectory(prefix='tickhub-deploy-') as tmp:
        copy = os.path.join(tmp, os.path.basename(config))
        with open(config) as f:
            text = f.read()
        if expect_fail_with is not None:
            text = text.replace(expect_fail_with[0], expect_fail_with[1])
        with open(copy, 'w') as f:
            f.write(text)
        r = subprocess.run(argv_of(path, copy, tmp), capture_output=True, text=True, timeout=60)
        out = r.stdout + r.stderr
        if expect_fail_with is None:
            report(r.returncode == 0, f'{program} accepts {os.path.basename(config)}', out)
        else:
            # The check is real: a broken copy is refused.
            report(r.returncode != 0, f'{program} refuses a broken {os.path.basename(config)}', out)


def nginx_argv(path, conf, tmp):
    # -p: a prefix of our own for its temporary paths; -g: the error log there.
    return [path, '-t', '-q', '-p', tmp, '-c', conf, '-g', f'error_log {tmp}/error.log;']


def haproxy_argv(path, conf, tmp):
    return [path, '-c', '-f', conf]


nginx_conf = os.path.join(DEPLOY, 'nginx.conf')
haproxy_conf = os.path.join(DEPLOY, 'haproxy.cfg')
check('nginx', nginx_argv, nginx_conf)
check('nginx', nginx_argv, nginx_conf, ('least_conn;', 'least_conn_typo;'))
check('haproxy', haproxy_argv, haproxy_conf)
check('haproxy', haproxy_argv, haproxy_conf, ('balance leastconn', 'balance nosuchalgo'))
print(f'1..{n}')
sys.exit(0)
