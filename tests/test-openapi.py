#!/usr/bin/python3
# test-openapi.py: data/openapi.json is true to the running server
#
# Starts the build tree's tickhubd (simulator, store with ticks, server) and
# checks, in TAP:
#  - /api/v1/openapi.json is data/openapi.json, an OpenAPI 3.1 document
#    whose $refs all resolve;
#  - every documented GET answers with a documented status, and a 200's
#    body matches the documented schema (a small JSON Schema checker:
#    type, required, properties, additionalProperties, items, enum, oneOf);
#  - the documented error shapes are what comes: an unknown symbol (404),
#    a bad timeframe or limit (400), an unknown path (404), each an Error;
#  - every path the server routes (the path literals of th-server-rest.c and
#    th-server-dashboard.c) is documented.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SERVER_SRC = [os.path.join(ROOT, 'plugins', 'sinks', 'server', f)
              for f in ('th-server-rest.c', 'th-server-dashboard.c')]

CONFIG = """\
[tickhub]
plugins=simulator;store;server;alerts
symbols=BTC;ETH
timeframes=1m;5m
[prices]
order=simulator
[simulator]
interval=0.05
[store]
path={dir}/history.db
ticks=true
[server]
listen=127.0.0.1:0
[alerts]
state-file={dir}/alerts.json
[indicators]
sma_2=sma(2)
"""

n = 0
failed = 0


def ok(cond, what):
    global n, failed
    n += 1
    print(f"{'ok' if cond else 'not ok'} {n} - {what}", flush=True)
    if not cond:
        failed += 1


def get(url, method='GET', body=None):
    req = urllib.request.Request(url, method=method, data=body,
                                 headers={'Content-Type': 'application/json'} if body is not None else {})
    try:
        with urllib.request.urlopen(req, timeout=15) as r:
            return r.status, r.headers.get('Content-Type', ''), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get('Content-Type', ''), e.read()


def resolve(doc, node):
    while isinstance(node, dict) and '$ref' in node:
        path = node['$ref']
        assert path.startswith('#/'), path
        node = doc
        for part in path[2:].split('/'):
            node = node[part]
    return node


def check(doc, schema, value, where='$'):
    """Problems of @value against @schema, as a list of strings."""
    schema = resolve(doc, schema)
    if 'oneOf' in schema:
        matches = [s for s in schema['oneOf'] if not check(doc, s, value, where)]
        return [] if len(matches) == 1 else [f'{where}: matches {len(matches)} of oneOf']
    types = schema.get('type')
    if types is not None:
        types = types if isinstance(types, list) else [types]
        kinds = {'object': dict, 'array': list, 'string': str, 'boolean': bool, 'null': type(None)}
        good = False
        for t in types:
            if t == 'number':
                good |= isinstance(value, (int, float)) and not isinstance(value, bool)
            elif t == 'integer':
                good |= isinstance(value, int) and not isinstance(value, bool)
            else:
                good |= isinstance(value, kinds[t])
        if not good:
            return [f'{where}: {json.dumps(value)[:60]} is not {types}']
    if 'enum' in schema and value not in schema['enum']:
        return [f'{where}: {value!r} is not one of {schema["enum"]}']
    problems = []
    if isinstance(value, dict):
        for key in schema.get('required', []):
            if key not in value:
                problems.append(f'{where}: {key} is missing')
        props = schema.get('properties', {})
        for key, v in value.items():
            if key in props:
                problems += check(doc, props[key], v, f'{where}.{key}')
            elif isinstance(schema.get('additionalProperties'), dict):
                problems += check(doc, schema['additionalProperties'], v, f'{where}.{key}')
            elif props and schema.get('additionalProperties') is not True:
                problems.append(f'{where}: {key} is not documented')
    if isinstance(value, list) and 'items' in schema:
        for i, v in enumerate(value):
            problems += check(doc, schema['items'], v, f'{where}[{i}]')
    return problems


def all_refs(node):
    if isinstance(node, dict):
        if '$ref' in node:
            yield node['$ref']
        for v in node.values():
            yield from all_refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from all_refs(v)


def routed_paths():
    """The path literals the server's dispatch compares with: (literal,
    is_prefix)."""
    found = set()
    for f in SERVER_SRC:
        text = open(f).read()
        for m in re.finditer(r'g_str_(equal|has_prefix) \(path, "([^"]+)"\)', text):
            found.add((m.group(2), m.group(1) == 'has_prefix'))
    return sorted(found)


def documented(doc, literal, prefix):
    for p in doc['paths']:
        if not prefix and p == literal:
            return True
        if prefix and p.startswith(literal) and p[len(literal):].startswith('{'):
            return True
    return False


def main():
    tmp = tempfile.TemporaryDirectory(prefix='tickhub-openapi-')
    conf = os.path.join(tmp.name, 'tickhub.conf')
    with open(conf, 'w') as f:
        f.write(CONFIG.format(dir=tmp.name))
    env = dict(os.environ)
    if 'LD_PRELOAD' in env:   # tickhubd is built with the sanitizers itself
        del env['LD_PRELOAD']
        env['ASAN_OPTIONS'] = 'detect_leaks=1:abort_on_error=1'
    proc = subprocess.Popen([os.environ['TICKHUBD'], '--no-dbus', '--config', conf], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    log = []
    port = []
    found = threading.Event()

    def read():
        for line in proc.stderr:
            log.append(line)
            m = re.search(r'listening on http://127\.0\.0\.1:(\d+)/', line)
            if m:
                port.append(int(m.group(1)))
                found.set()
    threading.Thread(target=read, daemon=True).start()
    try:
        if not found.wait(30):
            ok(False, 'tickhubd starts:\n' + ''.join(log))
            return
        base = f'http://127.0.0.1:{port[0]}'
        # Prices flowing, a tick stored.
        deadline = time.time() + 15
        while time.time() < deadline:
            status, _, body = get(base + '/api/v1/history/BTC/ticks?limit=1')
            if status == 200 and json.loads(body)['ticks']:
                break
            time.sleep(0.2)

        status, ctype, body = get(base + '/api/v1/openapi.json')
        doc = json.loads(body)
        ok(status == 200 and ctype.startswith('application/json'), 'GET /api/v1/openapi.json answers JSON')
        with open(os.path.join(ROOT, 'data', 'openapi.json'), 'rb') as f:
            ok(json.loads(f.read()) == doc, 'it is data/openapi.json')
        ok(doc.get('openapi') == '3.1.0', 'an OpenAPI 3.1 document')
        bad_refs = []
        for r in all_refs(doc):
            try:
                resolve(doc, {'$ref': r})
            except (KeyError, AssertionError):
                bad_refs.append(r)
        ok(not bad_refs, f'every $ref resolves {bad_refs}')

        for path, item in doc['paths'].items():
            op = item.get('get')
            if path.startswith('/api/v1/alerts'):
                ok(set(item) == ({'get', 'post'} if path == '/api/v1/alerts' else {'delete'}),
                   f'{path}: {", ".join(sorted(item)).upper()}')
            else:
                ok(op is not None and set(item) == {'get'}, f'{path}: GET only')
            if op is None:
                continue
            params = [resolve(doc, p) for p in op.get('parameters', [])]
            url = path
            for p in params:
                if p['in'] == 'path':
                    url = url.replace('{' + p['name'] + '}', str(p.get('example', 'BTC')))
            status, ctype, body = get(base + url)
            responses = op['responses']
            ok(str(status) in responses, f'GET {url}: {status} is documented')
            if status == 200:
                content = responses['200'].get('content', {})
                kind = ctype.split(';')[0]
                ok(kind in content or '*/*' in content, f'GET {url}: {kind} is the documented type')
                if kind == 'application/json':
                    problems = check(doc, content['application/json']['schema'], json.loads(body))
                    ok(not problems, f'GET {url}: the body matches the schema {problems[:5]}')
            # Errors: each is an Error with a documented status.
            errors = []
            if any(p['name'] == 'symbol' for p in params):
                errors.append((url.replace('BTC', 'NOPE'), 404, 'unknown_symbol'))
            if any(p['name'] == 'timeframe' for p in params):
                errors.append((url + '?timeframe=7x', 400, 'bad_request'))
            if any(p['name'] == 'limit' for p in params):
                errors.append((url + '?limit=0', 400, 'bad_request'))
            for eurl, want, code in errors:
                status, _, body = get(base + eurl)
                problems = check(doc, {'$ref': '#/components/schemas/Error'}, json.loads(body))
                ok(status == want and str(want) in responses and not problems and
                   json.loads(body)['error']['code'] == code,
                   f'GET {eurl}: {status} {code}, documented, an Error {problems}')

        # The alerts: POST a rule, a bad one, DELETE it, twice.
        alerts = doc['paths']['/api/v1/alerts']
        status, ctype, body = get(base + '/api/v1/alerts', 'POST',
                                  json.dumps({'symbol': 'BTC', 'condition': 'above 10000000', 'cooldown': '10m',
                                              'message': 'openapi'}).encode())
        rule = json.loads(body)
        problems = check(doc, alerts['post']['responses']['201']['content']['application/json']['schema'], rule)
        ok(status == 201 and not problems and rule['cooldown'] == 600, f'POST /api/v1/alerts: 201, an Alert {problems}')
        for bad, code in (({'symbol': 'BTC', 'condition': 'sideways'}, 'bad_request'),
                          ({'symbol': 'NOPE', 'condition': 'above 1'}, 'unknown_symbol')):
            status, _, body = get(base + '/api/v1/alerts', 'POST', json.dumps(bad).encode())
            problems = check(doc, {'$ref': '#/components/schemas/Error'}, json.loads(body))
            ok(status == 400 and '400' in alerts['post']['responses'] and not problems and
               json.loads(body)['error']['code'] == code, f'POST /api/v1/alerts {bad}: 400 {code}, documented')
        remove = doc['paths']['/api/v1/alerts/{id}']['delete']
        status, _, body = get(base + '/api/v1/alerts/' + rule.get('id', 'x'), 'DELETE')
        problems = check(doc, remove['responses']['200']['content']['application/json']['schema'], json.loads(body))
        ok(status == 200 and not problems, f'DELETE /api/v1/alerts/{{id}}: 200, as documented {problems}')
        status, _, body = get(base + '/api/v1/alerts/' + rule.get('id', 'x'), 'DELETE')
        ok(status == 404 and '404' in remove['responses'] and json.loads(body)['error']['code'] == 'not_found',
           'DELETE again: 404 not_found, documented')

        status, _, body = get(base + '/api/v1/nowhere')
        ok(status == 404 and not check(doc, {'$ref': '#/components/schemas/Error'}, json.loads(body)),
           'an unknown path: 404 with an Error')
        status, _, body = get(base + '/api/v1/history/BTC/ticks', method='POST')
        ok(status == 405, 'POST: 405 (no path takes another method than GET and HEAD)')

        routed = routed_paths()
        ok(len(routed) >= 14, f'the server routes {len(routed)} path literals')
        # The alerts' handler is registered on its path (th-server-alerts.c).
        routed += [('/api/v1/alerts', False), ('/api/v1/alerts/', True)]
        missing = [lit for lit, prefix in routed if not documented(doc, lit, prefix)]
        ok(not missing, f'every routed path is documented {missing}')
    finally:
        proc.terminate()
        try:
            code = proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        ok(code == 0, f'tickhubd stops cleanly (exit {code})' + ('' if code == 0 else ''.join(log[-20:])))
        tmp.cleanup()
        print(f'1..{n}')


if __name__ == '__main__':
    main()
    sys.exit(1 if failed else 0)
