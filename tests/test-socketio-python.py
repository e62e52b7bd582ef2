#!/usr/bin/python3
# test-socketio-python.py: python-socketio (Debian's python3-socketio)
# against tickhubd's Socket.IO server, unchanged, as the original script
# used it
#
# For each of transports=['polling'], ['websocket'] and the default
# (polling, then the upgrade): connect; join rooms and subscribe to a
# symbol in the connect handler; get symbol_data, then streaming
# financial_data_update events; call() with an ack; restart tickhubd on the
# same port; the client reconnects by itself, joins again and gets events
# again. TAP output.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import base64
import hashlib
import hmac
import json
import logging
import os
import sys
import threading
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

try:
    import socketio
except ImportError:
    # ./setup.sh test installs it and says so: there a missing client is a
    # failure, not a skip.
    if os.environ.get('TICKHUB_TEST_REQUIRE_CLIENTS'):
        print('1..1\nnot ok 1 python3-socketio is not installed (./setup.sh test installs it)')
        sys.exit(1)
    print('1..0 # SKIP python3-socketio is not installed')
    sys.exit(0)

from socketio_daemon import Daemon

TIMEOUT = 20


class Recorder(logging.Handler):
    """Keeps what python-engineio logs about its transports."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def wait_for(cond, what, timeout=TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.02)
    raise AssertionError(f'timed out waiting for {what}')


def run(daemon, transports):
    recorder = Recorder()
    elog = logging.getLogger(f'engineio-{transports}')
    elog.setLevel(logging.INFO)
    elog.addHandler(recorder)
    elog.propagate = False
    sio = socketio.Client(reconnection=True, reconnection_delay=0.2, reconnection_delay_max=1,
                          engineio_logger=elog)
    lock = threading.Lock()
    seen = {'connect': 0, 'connected': 0, 'symbol_data': [], 'updates': [], 'status': 0, 'subscribed': []}

    @sio.event
    def connect():
        with lock:
            seen['connect'] += 1
        # As a client of the Flask-SocketIO app: rooms are joined on each
        # connect (a restarted server knows nothing of the old session).
        sio.emit('join_room', {'room': 'financial_data'})
        sio.emit('join_room', {'room': 'system_status'})
        sio.emit('subscribe_symbol', {'symbol': 'BTC'})

    @sio.on('connected')
    def on_connected(data):
        assert data['client_id']
        with lock:
            seen['connected'] += 1

    @sio.on('symbol_subscribed')
    def on_subscribed(data):
        with lock:
            seen['subscribed'].append(data)

    @sio.on('symbol_data')
    def on_symbol_data(data):
        with lock:
            seen['symbol_data'].append(data)

    @sio.on('financial_data_update')
    def on_update(data):
        with lock:
            seen['updates'].append(data)

    @sio.on('system_status_update')
    def on_status(data):
        with lock:
            seen['status'] += 1

    sio.connect(daemon.url, transports=transports, wait_timeout=TIMEOUT)
    try:
        wait_for(lambda: seen['symbol_data'] and len(seen['updates']) >= 5 and seen['status'] >= 1,
                 'symbol_data, updates and a system_status_update')
        assert seen['connected'] == 1
        assert seen['subscribed'][0] == {'symbol': 'BTC', 'room': 'symbol_BTC'}
        assert seen['symbol_data'][0]['symbol'] == 'BTC'
        assert {u['symbol'] for u in seen['updates']} <= {'BTC', 'ETH', 'SOL'}
        assert all(u['data']['source'] == 'simulator' for u in seen['updates'])

        # An ack: the reply's data, as the reply event's.
        status = sio.call('get_status', {}, timeout=TIMEOUT)
        assert 'symbol_BTC' in status['rooms'] and 'financial_data' in status['rooms'], status
        pong = sio.call('ping', {'n': 1}, timeout=TIMEOUT)
        assert pong == {'n': 1}, pong
        error = sio.call('join_room', {'room': 'nope'}, timeout=TIMEOUT)
        assert error['code'] == 'unknown_room', error

        if transports is None:
            wait_for(lambda: sio.transport() == 'websocket', 'the upgrade to websocket')
            assert any('Attempting polling connection' in line for line in recorder.lines), recorder.lines
            assert any('WebSocket upgrade was successful' in line for line in recorder.lines), recorder.lines
        else:
            assert sio.transport() == transports[0], sio.transport()

        # The server goes away and comes back on the same port.
        daemon.restart()
        with lock:
            seen['updates'].clear()
            seen['symbol_data'].clear()
        wait_for(lambda: seen['connect'] >= 2, 'the reconnection')
        wait_for(lambda: seen['symbol_data'] and len(seen['updates']) >= 3, 'events after the reconnection')
        assert seen['connected'] == 2
        assert sio.call('ping', {'n': 2}, timeout=TIMEOUT) == {'n': 2}
    finally:
        sio.disconnect()


def jwt_hs256(secret, claims):
    """A JSON Web Token, as any HS256 library makes it."""
    def b64(data):
        return base64.urlsafe_b64encode(data).rstrip(b'=').decode()
    head = b64(json.dumps({'alg': 'HS256', 'typ': 'JWT'}).encode())
    body = b64(json.dumps(claims).encode())
    sig = hmac.new(secret.encode(), f'{head}.{body}'.encode(), hashlib.sha256).digest()
    return f'{head}.{body}.{b64(sig)}'


def auth_run(daemon, good, bad):
    """With authentication on: the `auth` payload's token lets the client
    in on both transports; a wrong one, or none, is refused."""
    for transports in (['polling'], ['websocket']):
        sio = socketio.Client(reconnection=False)
        got = []
        sio.on('connected', lambda data: got.append(data))
        try:
            sio.connect(daemon.url, auth={'token': good}, transports=transports, wait_timeout=TIMEOUT)
            wait_for(lambda: got, f'the connected event ({transports[0]})')
            assert sio.call('ping', {'n': 1}, timeout=TIMEOUT) == {'n': 1}
        finally:
            sio.disconnect()
        for auth in ({'token': bad}, None):
            sio = socketio.Client(reconnection=False)
            # The server answers 44 at once; python-socketio 5 still waits
            # out wait_timeout before it raises: keep that short.
            try:
                sio.connect(daemon.url, auth=auth, transports=transports, wait_timeout=2)
            except socketio.exceptions.ConnectionError:
                pass
            else:
                sio.disconnect()
                raise AssertionError(f'connected with auth={auth!r} over {transports[0]}')


def case(number, title, daemon, body, tokens=False):
    """Runs body(daemon) on a started daemon and prints its TAP line;
    returns how many failures it counted."""
    failed = 0
    try:
        if tokens:
            path = os.path.join(daemon.dir.name, 'tokens.txt')
            with open(path, 'w') as f:
                f.write('# the dashboard\ns3cret-token\n')
            os.chmod(path, 0o600)
        daemon.start()
        body(daemon)
        print(f'ok {number} {title}')
    except Exception as e:  # noqa: BLE001 - reported as a TAP failure
        failed += 1
        print(f'not ok {number} {title.split(":")[0]}: {type(e).__name__}: {e}')
        for line in traceback.format_exc().splitlines():
            print('# ' + line)
        for line in daemon.log[-15:]:
            print('# ' + line.rstrip())
    finally:
        try:
            daemon.close()
        except Exception as e:  # noqa: BLE001
            failed += 1
            print(f'# tickhubd: {e}')
    sys.stdout.flush()
    return failed


def main():
    modes = [('polling', ['polling']), ('websocket', ['websocket']), ('default', None)]
    secret = 'a-test-secret-of-at-least-32-characters'
    auths = [
        ('tokens', 'tokens=tokens.txt\n', 's3cret-token', 'wrong-token'),
        ('jwt', f'jwt-secret={secret}\n', jwt_hs256(secret, {'sub': 'dash', 'exp': int(time.time()) + 3600}),
         jwt_hs256(secret, {'sub': 'dash', 'exp': int(time.time()) - 10})),
    ]
    print(f'1..{len(modes) + len(auths)}')
    failed = 0
    for i, (name, transports) in enumerate(modes, 1):
        failed += case(i, f'python-socketio {name}: connect, rooms, symbol_data, events, ack, reconnect',
                       Daemon(), lambda daemon, t=transports: run(daemon, t))
    for i, (name, extra, good, bad) in enumerate(auths, len(modes) + 1):
        failed += case(i, f'python-socketio auth ({name}): the auth payload lets it in, a bad or no token is refused',
                       Daemon(extra), lambda daemon, g=good, b=bad: auth_run(daemon, g, b), tokens=True)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
