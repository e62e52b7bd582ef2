# socketio_daemon.py: a tickhubd for the Socket.IO client tests
#
# Starts the build tree's tickhubd ($TICKHUBD, with the environment of
# tests/meson.build) on a config with the simulator feed (deterministic: a
# seeded random walk) and the server sink, reads the bound port from its
# log, and restarts it on the same port.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

CONFIG = """\
[tickhub]
plugins=simulator;server
symbols=BTC;ETH;SOL
timeframes=1m

[prices]
order=simulator

[simulator]
interval=0.05
seed=42

[server]
listen=127.0.0.1:{port}
status-interval=0.5
"""


def child_env():
    """The environment of tests/meson.build, for tickhubd and node. Under
    AddressSanitizer the interpreters get the runtimes preloaded and leak
    checks off; tickhubd is built with ASan itself, so it gets neither, and
    its leaks fail the test (a non-zero exit)."""
    env = dict(os.environ)
    if 'LD_PRELOAD' in env:
        del env['LD_PRELOAD']
        env['ASAN_OPTIONS'] = 'detect_leaks=1:abort_on_error=1'
    return env


class Daemon:
    def __init__(self, server_extra=''):
        """server_extra: more [server] lines (auth, say)."""
        self.dir = tempfile.TemporaryDirectory(prefix='tickhub-sio-')
        self.server_extra = server_extra
        self.port = 0
        self.proc = None
        self.log = []

    def start(self):
        path = os.path.join(self.dir.name, 'tickhub.conf')
        with open(path, 'w') as f:
            f.write(CONFIG.format(port=self.port) + self.server_extra)
        self.proc = subprocess.Popen([os.environ['TICKHUBD'], '--config', path], env=child_env(),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        found = threading.Event()

        def read():
            for line in self.proc.stderr:
                self.log.append(line)
                m = re.search(r'listening on http://127\.0\.0\.1:(\d+)/', line)
                if m:
                    self.port = int(m.group(1))
                    found.set()

        threading.Thread(target=read, daemon=True).start()
        if not found.wait(30):
            self.stop()
            raise RuntimeError('tickhubd did not start:\n' + ''.join(self.log))
        return self.port

    def stop(self):
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            status = self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            status = self.proc.wait()
        self.proc = None
        if status != 0:
            raise RuntimeError(f'tickhubd exited with {status}:\n' + ''.join(self.log[-20:]))

    def restart(self):
        """Stops tickhubd and starts it again on the same port."""
        self.stop()
        time.sleep(0.3)
        return self.start()

    @property
    def url(self):
        return f'http://127.0.0.1:{self.port}'

    def close(self):
        try:
            self.stop()
        finally:
            self.dir.cleanup()


def main_js(script):
    """Runs a node client script (argv: URL file, control file): it asks for
    restarts by writing to stdout, answered on stdin."""
    modules = os.path.join(os.path.dirname(os.path.abspath(script)), 'node_modules', 'socket.io-client')
    if not os.path.isdir(modules):
        print('1..0 # SKIP socket.io-client is not installed: run npm ci in tests/js (./setup.sh test does)')
        return 0
    d = Daemon()
    try:
        d.start()
        node = subprocess.Popen(['node', script, d.url], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                env=child_env(), text=True, bufsize=1)
        for line in node.stdout:
            if line.strip() == '#restart':
                d.restart()
                node.stdin.write('#restarted\n')
                node.stdin.flush()
            else:
                sys.stdout.write(line)
                sys.stdout.flush()
        return node.wait()
    finally:
        d.close()


if __name__ == '__main__':
    sys.exit(main_js(sys.argv[1]))
