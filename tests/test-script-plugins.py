#!/usr/bin/python3
# test-script-plugins.py: the Python or the JavaScript plugins (the first
# argument: --lang=py or --lang=js), loaded by tickhubd from a keyfile,
# each producing the events it should; a plugin that fails at load or in a
# call is disabled and the daemon carries on; the PyGObject overrides.
# The examples of both languages are twins (zscore, webhook, rest_poll):
# the same tests, with the plugin names of the language, hold for both.
# Prints TAP.
#
# Run with Debian's /usr/bin/python3 (it has gi). The daemon comes from
# $TICKHUBD and finds the plugins through $TICKHUB_PLUGIN_PATH (the build
# tree) and, for the test-only plugins of tests/data/plugins, through
# [tickhub] plugin-dirs. Under ASan meson sets LD_PRELOAD and
# ASAN_OPTIONS=detect_leaks=0 for this script (see tests/meson.build), and
# the daemons it spawns inherit them: they embed Python, which is not built
# with ASan and leaks at exit by design.
#
# The overrides are taken from the source tree (bindings/python), put on
# sys.path before gi is imported: PyGObject extends gi.overrides.__path__
# with every gi/overrides folder on sys.path.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import datetime
import gc
import http.server
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback

# No __pycache__ in the source tree: not from the overrides imported here,
# nor from tests/data/plugins imported by the daemons (they inherit the env).
sys.dont_write_bytecode = True
os.environ["PYTHONDONTWRITEBYTECODE"] = "1"

SRCDIR = os.environ.get("G_TEST_SRCDIR", os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(SRCDIR, os.pardir, "bindings", "python"))

import gi  # noqa: E402

gi.require_version("Tickhub", "1.0")
from gi.repository import GLib, GObject, Tickhub  # noqa: E402

TEST_PLUGINS = os.path.join(SRCDIR, "data", "plugins")

LANG = "py"
for _arg in sys.argv[1:]:
    if _arg.startswith("--lang="):
        LANG = _arg[len("--lang="):]
assert LANG in ("py", "js"), LANG
NAMES = {"@Z@": "zscore_" + LANG, "@W@": "webhook_" + LANG, "@R@": "rest_poll_" + LANG,
         "@RAISING@": "raising_" + LANG, "@BROKEN@": "broken_" + LANG, "@RSINK@": "raising_sink_" + LANG,
         "@TSINK@": "typed_sink_" + LANG}


def S(text):
    """The text with the plugin names of the language under test."""
    for k, v in NAMES.items():
        text = text.replace(k, v)
    return text
T0 = 1704067200 * 1000  # 2024-01-01T00:00:00Z in ms


# -- helpers -------------------------------------------------------------

class Workdir:
    def __init__(self):
        self.path = tempfile.mkdtemp(prefix="tickhub-py-")

    def file(self, name, text=None):
        path = os.path.join(self.path, name)
        if text is not None:
            with open(path, "w") as f:
                f.write(S(text))
        return path

    def events(self, name="out.jsonl"):
        with open(self.file(name)) as f:
            return [json.loads(line) for line in f if line.strip()]

    def cleanup(self):
        shutil.rmtree(self.path, ignore_errors=True)


def tickhubd(args, timeout=60):
    """Runs tickhubd to its end; returns (exit status, stdout, stderr)."""
    p = subprocess.run([os.environ["TICKHUBD"]] + args, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def start_tickhubd(args):
    return subprocess.Popen([os.environ["TICKHUBD"]] + args, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def stop_tickhubd(proc, timeout=30):
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def replay_file(wd, closes, symbol="BTC"):
    """One trade per minute at each close (so every candle has that close)."""
    lines = [json.dumps({"symbol": symbol, "price": c, "size": 1.0, "timestamp": T0 + i * 60000 + 1000,
                         "source": "binance"}) for i, c in enumerate(closes)]
    return wd.file("replay.jsonl", "\n".join(lines) + "\n")


class Server:
    """An HTTP server on 127.0.0.1, port 0, in a thread of its own.

    GET answers `get_body` (a callable giving (status, bytes)); POST bodies
    are recorded, answered with the next status of `post_statuses` (then 204).
    """

    def __init__(self, get_body=None, post_statuses=()):
        server = self
        self.posts = []
        self.gets = 0
        self.get_body = get_body
        self.post_statuses = list(post_statuses)
        self.lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                with server.lock:
                    server.gets += 1
                status, body = server.get_body()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with server.lock:
                    status = server.post_statuses.pop(0) if server.post_statuses else 204
                    if status < 300:
                        server.posts.append((self.headers.get("Content-Type"), body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def zscores(closes, n):
    """The rolling population z-score, computed the slow and obvious way."""
    out = []
    for i in range(len(closes)):
        if i + 1 < n:
            out.append(None)
            continue
        w = closes[i + 1 - n:i + 1]
        mean = sum(w) / n
        std = math.sqrt(sum((x - mean) ** 2 for x in w) / n)
        out.append(None if std == 0 else (closes[i] - mean) / std)
    return out


# -- zscore --------------------------------------------------------------

def test_zscore_matches_recomputation():
    wd = Workdir()
    try:
        # Prices that move in their last digits, a flat stretch (std 0:
        # null), and more closes than 2 N (so the sums are recomputed).
        closes = [43000.0 + 0.01 * ((i * 7919) % 13) for i in range(40)] + [43000.5] * 6 + [43001.0, 42999.0, 43002.5]
        n = 5
        conf = wd.file("z.conf",
                       "[tickhub]\nplugins=replay;jsonl\nsymbols=BTC\ntimeframes=1m\n"
                       "[replay]\npath=%s\nexit-at-end=true\n"
                       "[jsonl]\npath=out.jsonl\nevents=technical_indicators_update;candle_update\n"
                       "[indicators]\nz=@Z@(%d)\n" % (replay_file(wd, closes), n))
        status, _, err = tickhubd(["--config", conf])
        assert status == 0, err
        # Loaded, run and torn down without a complaint from the runtime.
        assert "CRITICAL" not in err and "WARNING" not in err, err
        events = wd.events()
        candles = [e["data"]["candle"]["close"] for e in events
                   if e["event"] == "candle_update" and e["data"]["candle"]["closed"]]
        values = [e["data"]["indicators"]["z"] for e in events
                  if e["event"] == "technical_indicators_update" and e["data"]["closed"]]
        # The last candle stays open at the end of a replay.
        assert candles == closes[:-1], candles
        expected = zscores(closes[:-1], n)
        assert len(values) == len(expected), (values, expected)
        for i, (got, want) in enumerate(zip(values, expected)):
            if want is None:
                assert got is None, (i, got)
            else:
                assert got is not None and abs(got - want) < 1e-6, (i, got, want)
        assert any(v is None for v in values[n:]), "the flat stretch gives null"
        assert sum(v is not None for v in values) > 30
    finally:
        wd.cleanup()


def test_zscore_twins_agree():
    """The C zscore and the script's twin: the same operations, the same values."""
    wd = Workdir()
    try:
        closes = [43000.0 + 0.37 * ((i * 7919) % 23) - 0.11 * i for i in range(60)] + [43001.5] * 7 + [43002.0]
        conf = wd.file("t.conf",
                       "[tickhub]\nplugins=replay;jsonl\nsymbols=BTC\ntimeframes=1m\n"
                       "[replay]\npath=%s\nexit-at-end=true\n"
                       "[jsonl]\npath=out.jsonl\nevents=technical_indicators_update\n"
                       "[indicators]\nc=zscore(7)\ns=@Z@(7)\n" % replay_file(wd, closes))
        status, _, err = tickhubd(["--config", conf])
        assert status == 0, err
        values = [e["data"]["indicators"] for e in wd.events()]
        assert len(values) >= len(closes) - 1, values
        assert sum(v["c"] is not None for v in values) > 40, values
        for v in values:
            assert v["c"] == v["s"], v
    finally:
        wd.cleanup()


def test_zscore_in_process():
    """The plugin loaded by a hub in this Python process: any GI host can."""
    closes = [100.0, 101.0, 103.0, 102.0, 105.0, 107.0, 104.0, 108.0]
    config = Tickhub.Config.new()
    config.load_from_data(S("[tickhub]\nplugins=jsonl\nsymbols=BTC\ntimeframes=1m\n[jsonl]\npath=/dev/null\n"
                            "[indicators]\nz=@Z@(3)\n"), -1)
    hub = Tickhub.Hub.new(config, Tickhub.Clock.new())
    hub.load()
    assert S("@Z@") in hub.list_plugins() and not hub.list_disabled_plugins()
    values = []

    def on_event(h, ev):
        if ev.get_name() == "technical_indicators_update" and ev.data["closed"]:
            values.append(ev.data["indicators"]["z"])

    hub.connect("event", on_event)
    hub.start()
    for i, c in enumerate(closes):
        tick = Tickhub.Tick.new("BTC", "here", Tickhub.TickKind.TRADE, c, T0 * 1000 + i * 60000000 + 1000000)
        tick.size = 1.0
        hub.push_tick(tick)
    expected = zscores(closes[:-1], 3)
    assert len(values) == len(expected), (values, expected)
    for got, want in zip(values, expected):
        assert (got is None and want is None) or abs(got - want) < 1e-9, (values, expected)
    # Breaks the cycle hub → plugin → hub, then drops the plugins (and, for
    # JavaScript, the context after them).
    hub.run_dispose()


def in_child(func):
    """Runs func in a new process of this script: a process can load a
    JavaScript plugin's classes into one GJS context only, and another
    in-process test already did."""
    p = subprocess.run([sys.executable, os.path.abspath(__file__), "--lang=" + LANG, "--child=" + func.__name__],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)


def test_zscore_provisional():
    in_child(zscore_provisional)


def zscore_provisional():
    """commit=false: the forming candle as if it closed at its price, the
    state unchanged; published by the housekeeping once a second."""
    closes = [100.0, 101.0, 103.0, 102.0]
    clock = Tickhub.ManualClock.new(T0 * 1000)
    config = Tickhub.Config.new()
    config.load_from_data(S("[tickhub]\nplugins=jsonl\nsymbols=BTC\ntimeframes=1m\n[jsonl]\npath=/dev/null\n"
                            "[prices]\norder=here\n[here]\nttl=600\n[indicators]\nz=@Z@(3)\n"), -1)
    hub = Tickhub.Hub.new(config, clock)
    hub.load()
    provisional, closed = [], []

    def on_indicators(h, symbol, timeframe, candle, values):
        (closed if candle.closed else provisional).append(values.unpack()["z"])

    hub.connect("indicators-updated", on_indicators)
    hub.start()

    def push(price, minute, second):
        t = T0 * 1000 + minute * 60000000 + second * 1000000
        clock.set_time(t)
        tick = Tickhub.Tick.new("BTC", "here", Tickhub.TickKind.TRADE, price, t)
        tick.size = 1.0
        hub.push_tick(tick)

    for i, c in enumerate(closes):
        push(c, i, 1)
    # Minute 4 is forming at 110: a second later, its provisional value.
    push(110.0, 4, 1)
    del provisional[:]        # those of the earlier forming candles
    clock.advance(1000000)
    assert len(closed) == 4, closed
    assert len(provisional) == 1, provisional
    want = zscores([101.0, 103.0, 102.0, 110.0], 3)[-1]
    assert abs(provisional[0] - want) < 1e-9, (provisional, want)
    # The provisional run changed nothing: the candle closes at 104, and its
    # value is computed from 103, 102, 104 alone.
    push(104.0, 4, 30)
    push(105.0, 5, 1)
    want = zscores([101.0, 103.0, 102.0, 104.0], 3)[-1]
    assert len(closed) == 5 and abs(closed[-1] - want) < 1e-9, (closed, want)
    hub.run_dispose()


def test_zscore_bad_period():
    wd = Workdir()
    try:
        conf = wd.file("bad.conf",
                       "[tickhub]\nplugins=jsonl\nsymbols=BTC\n[jsonl]\npath=-\n"
                       "[indicators]\nz=@Z@(0)\nz2=@Z@(20,1)\nz3=@Z@(20)\n")
        status, _, err = tickhubd(["--check-config", "--config", conf])
        assert status == 78, (status, err)
        assert S("[indicators] z: @Z@ period “0” is not a whole number from 2 to 10000; "
                 "write it like @Z@(20)") in err, err
        assert S("[indicators] z2: @Z@ takes one argument") in err, err
        assert "[indicators] z3" not in err, err
    finally:
        wd.cleanup()


# -- webhook -------------------------------------------------------------

def webhook_run(server, extra="", closes=(100.0, 101.0, 102.0, 103.0)):
    wd = Workdir()
    try:
        conf = wd.file("w.conf",
                       "[tickhub]\nplugins=replay;jsonl;@W@\nsymbols=BTC\ntimeframes=1m\n"
                       "[replay]\npath=%s\nexit-at-end=true\n"
                       "[jsonl]\npath=out.jsonl\n"
                       "[@W@]\nurl=%s/hook\nevents=financial_data_update;price_source_changed\n"
                       "interval=0.1\n%s" % (replay_file(wd, list(closes)), server.url, extra))
        status, _, err = tickhubd(["--config", conf])
        return status, err, wd.events()
    finally:
        wd.cleanup()


def posted_events(server):
    out = []
    for content_type, body in server.posts:
        assert content_type == "application/json", content_type
        batch = json.loads(body)
        assert isinstance(batch, list) and batch, batch
        out += batch
    return out


def test_webhook_posts_selected_events():
    server = Server()
    try:
        status, err, events = webhook_run(server)
        assert status == 0, err
        wanted = [e for e in events if e["event"] in ("financial_data_update", "price_source_changed")]
        posted = posted_events(server)
        # Everything selected, in order, nothing else; the last batch by the
        # flush at exit.
        assert posted == wanted, (posted, wanted)
        assert len(posted) == 5, posted
    finally:
        server.close()


def test_webhook_retries_failed_posts():
    server = Server(post_statuses=[500, 503])
    try:
        status, err, events = webhook_run(server)
        assert status == 0, err
        assert "HTTP 500" in err, err
        assert len(posted_events(server)) == 5, server.posts
    finally:
        server.close()


def test_webhook_bounded_queue():
    server = Server()
    try:
        # A long interval: only the flush at exit posts, and the queue holds 3.
        status, err, events = webhook_run(server, "max-queue=3\n", closes=[100.0 + i for i in range(20)])
        assert status == 0, err
        posted = posted_events(server)
        assert len(posted) == 3, posted
        assert "queue full" in err, err
    finally:
        server.close()


def test_webhook_unreachable_fails_flush():
    server = Server()
    url = server.url
    server.close()  # nobody listens there any more
    wd = Workdir()
    try:
        conf = wd.file("w.conf",
                       "[tickhub]\nplugins=replay;@W@\nsymbols=BTC\ntimeframes=1m\n"
                       "[replay]\npath=%s\nexit-at-end=true\n"
                       "[@W@]\nurl=%s/hook\nevents=financial_data_update\ntimeout=2\n"
                       % (replay_file(wd, [1.0, 2.0]), url))
        started = time.monotonic()
        status, _, err = tickhubd(["--config", conf])
        # The flush gives up after `timeout`, says how many were lost, and
        # the daemon reports a runtime failure.
        assert status == 1, (status, err)
        assert time.monotonic() - started < 10
        assert "2 events not delivered" in err, err
    finally:
        wd.cleanup()


def test_webhook_bad_config():
    wd = Workdir()
    try:
        conf = wd.file("w.conf", "[tickhub]\nplugins=@W@\nsymbols=BTC\n"
                                 "[@W@]\ninterval=0\nurl=ftp://example.org\n")
        status, _, err = tickhubd(["--check-config", "--config", conf])
        assert status == 78, (status, err)
        assert S("[@W@] url:") in err and S("[@W@] interval: 0 is out of range") in err, err
    finally:
        wd.cleanup()


# -- rest_poll -----------------------------------------------------------

def rest_run(server, seconds=1.5, extra="", polls=1):
    """Runs tickhubd with the REST poller for `seconds`, and at least until
    the server has had `polls` requests: the plugin sends one only once the
    answer to the one before is handled, so what the earlier answers made
    the plugin report is published by then. (Nothing is published after
    the stop begins; under a sanitizer on a loaded machine a poll may take
    longer than `seconds`.)"""
    wd = Workdir()
    try:
        conf = wd.file("r.conf",
                       "[tickhub]\nplugins=@R@;jsonl\nsymbols=BTC;ETH;SOL\ntimeframes=1m\n"
                       "[prices]\norder=tickhub_test\n"
                       "[@R@]\nurl=%s/prices\ninterval=0.2\n%s"
                       "[jsonl]\npath=out.jsonl\n" % (server.url, extra))
        proc = start_tickhubd(["--config", conf])
        time.sleep(seconds)
        deadline = time.monotonic() + 30
        while server.gets < polls and time.monotonic() < deadline:
            time.sleep(0.05)
        status, _, err = stop_tickhubd(proc)
        return status, err, wd.events()
    finally:
        wd.cleanup()


def test_rest_poll_pushes_ticks():
    body = json.dumps({"BTC": 42000.5, "eth": "2300.25", "DOGE": 0.1, "SOL": None}).encode()
    server = Server(get_body=lambda: (200, body))
    try:
        status, err, events = rest_run(server, extra="source=my_rest\n", polls=3)
        assert status == 0, err
        updates = [e["data"] for e in events if e["event"] == "financial_data_update"]
        by_symbol = {u["symbol"]: u["data"] for u in updates}
        assert by_symbol["BTC"]["price"] == 42000.5 and by_symbol["BTC"]["source"] == "my_rest", updates
        assert by_symbol["ETH"]["price"] == 2300.25, updates
        assert "SOL" not in by_symbol and "DOGE" not in by_symbol, updates
        assert server.gets >= 3, server.gets  # polled every 0.2 s
        states = [e["data"]["state"] for e in events
                  if e["event"] == "source_status" and e["data"]["source"] == "my_rest"]
        assert states[:2] == ["connecting", "live"], states
    finally:
        server.close()


def test_rest_poll_reports_down():
    server = Server(get_body=lambda: (500, b"{}"))
    try:
        status, err, events = rest_run(server, seconds=1.0, polls=2)
        assert status == 0, err
        down = [e["data"] for e in events
                if e["event"] == "source_status" and e["data"]["state"] == "down"]
        assert down and "HTTP 500" in down[0]["reason"], events
        assert not [e for e in events if e["event"] == "financial_data_update"]
    finally:
        server.close()


def test_rest_poll_deep_json():
    # 100,000 nested arrays: Python's json raises RecursionError, not
    # ValueError; the plugin reports the source down and keeps polling.
    body = b"[" * 100000 + b"]" * 100000
    server = Server(get_body=lambda: (200, body))
    try:
        status, err, events = rest_run(server, seconds=1.0, polls=2)
        assert status == 0, err
        states = [e["data"] for e in events if e["event"] == "source_status"
                  and e["data"]["source"] != "tickhub_test"]
        down = [s for s in states if s["state"] == "down"]
        assert down, states
        # Not disabled by a plugin failure (the stop's own "stopped" comes
        # after the stop began, and is not published).
        assert not [s for s in states if s["state"] == "disabled" and s["reason"] != "stopped"], states
        assert server.gets >= 2, server.gets  # still polling
        assert not [e for e in events if e["event"] == "financial_data_update"]
    finally:
        server.close()


def test_rest_poll_stats_in_process():
    # The same plugin in this process: the hub enables libpeas's python3
    # loader, which uses the interpreter that is already running.
    body = json.dumps({"BTC": 1.5, "ETH": "bad"}).encode()
    server = Server(get_body=lambda: (200, body))
    try:
        config = Tickhub.Config.new()
        config.load_from_data(S("[tickhub]\nplugins=@R@\nsymbols=BTC;ETH\ntimeframes=1m\n"
                                "[@R@]\nurl=%s/p\ninterval=0.1\n" % server.url), -1)
        hub = Tickhub.Hub.new(config, Tickhub.Clock.new())
        hub.load()
        prices = []
        hub.connect("event", lambda h, ev: prices.append(ev.data) if ev.get_name() == "financial_data_update" else None)
        hub.start()
        loop = GLib.MainLoop()
        GLib.timeout_add(500, loop.quit)
        loop.run()
        # The plugin's module lives in this interpreter: find the feed there
        # (this hub's: an earlier test's may not be collected yet).
        # (Not with hub.get_feeds(): from Python it drops a reference of each
        # feed it returns, see the report of this change.)
        feed, = [o for o in gc.get_objects() if type(o).__name__ == "RestPollFeed" and o.props.hub == hub]
        # Through the C invoker, th_feed_source_get_stats(), and back.
        stats = Tickhub.FeedSource.get_stats(feed).unpack()
        assert stats["requests"] >= 3 and stats["errors"] == 0, stats
        assert stats["ticks"] == stats["requests"] or stats["ticks"] == stats["requests"] - 1, stats
        assert stats["bad_values"] >= 3, stats
        assert feed.get_stats().get_type_string() == "a{sv}"
        assert feed.get_stats().lookup_value("ticks", None).get_type_string() == "t"
        assert prices and prices[0]["data"]["price"] == 1.5, prices
        stopped = []
        hub.stop_async(None, lambda h, res: stopped.append(h.stop_finish(res)))
        while not stopped:
            GLib.MainContext.default().iteration(True)
        assert stopped == [True]
    finally:
        server.close()


def test_feed_source_name_in_process():
    # get_source_name is optional: a feed without it has no name of its own
    # (and here no hub to name it after its plugin) ...
    class Unnamed(GObject.Object, Tickhub.FeedSource):
        hub = GObject.Property(type=Tickhub.Hub,
                               flags=GObject.ParamFlags.READWRITE | GObject.ParamFlags.CONSTRUCT_ONLY)

    assert Tickhub.FeedSource.get_source_name(Unnamed()) is None
    # ... and rest_poll's is its `source` key, through the C invoker.
    config = Tickhub.Config.new()
    config.load_from_data(S("[tickhub]\nplugins=@R@\nsymbols=BTC\n"
                            "[@R@]\nurl=http://127.0.0.1:9/p\nsource=renamed\n"), -1)
    hub = Tickhub.Hub.new(config, Tickhub.Clock.new())
    hub.load()
    gc.collect()
    # This hub's feed: an earlier test's may not be collected yet.
    feed, = [o for o in gc.get_objects() if type(o).__name__ == "RestPollFeed" and o.props.hub == hub]
    assert Tickhub.FeedSource.get_source_name(feed) == "renamed"
    hub.run_dispose()


# -- failures --------------------------------------------------------------
#
# tests/data/plugins: raising_py / raising_js, an indicator that fails as
# its argument says, and broken_py / broken_js, which throw at load.

FAULTS = {
    "py": {
        "raise": "Raising.do_update raised ZeroDivisionError: raising_py fails on purpose",
        "set": "Raising.do_update raised TypeError",
        "outputs": "Raising.do_get_outputs raised TypeError: get_outputs must return a list of strings, not 42",
        "configure": "Raising.do_configure raised ValueError: raising_py fails on purpose in configure",
        "trace": ["Traceback (most recent call last)", "raising_py.py\", line"],
        "broken": ["RuntimeError: broken_py is broken on purpose", "broken_py.py"],
        "consume": "RaisingSink.do_consume raised KeyError: 'raising_sink_py fails on purpose in consume'",
        "flush": "RaisingSink.do_flush_async raised RuntimeError: raising_sink_py fails on purpose in flush",
    },
    "js": {
        "raise": "Raising.vfunc_update threw RangeError: raising_js fails on purpose",
        "set": "Raising.vfunc_update threw TypeError",
        "outputs": "Raising.vfunc_get_outputs threw TypeError: get_outputs must return an array of strings, not 42",
        "configure": "Raising.vfunc_configure threw TypeError: raising_js fails on purpose in configure",
        "trace": ["vfunc_update@file://", "raising_js.js:"],
        "broken": ["Error: broken_js is broken on purpose", "broken_js.js:"],
        "consume": "RaisingSink.vfunc_consume threw ReferenceError: raising_sink_js fails on purpose in consume",
        "flush": "RaisingSink.vfunc_flush threw Error: raising_sink_js fails on purpose in flush",
    },
}[LANG]


def raising_run(mode, closes=(10.0, 20.0, 30.0, 40.0)):
    """tickhubd with raising_X(mode) beside sma(2); (status, stderr, indicator values)."""
    wd = Workdir()
    try:
        conf = wd.file("r.conf",
                       "[tickhub]\nplugins=replay;jsonl\nsymbols=BTC\ntimeframes=1m\nplugin-dirs=%s\n"
                       "[replay]\npath=%s\nexit-at-end=true\n"
                       "[jsonl]\npath=out.jsonl\nevents=technical_indicators_update\n"
                       "[indicators]\nbad=@RAISING@(%s)\nsma_2=sma(2)\n"
                       % (TEST_PLUGINS, replay_file(wd, list(closes)), mode))
        status, _, err = tickhubd(["--config", conf])
        return status, err, [e["data"]["indicators"] for e in wd.events()]
    finally:
        wd.cleanup()


def assert_sma_2(values):
    """sma(2) of the closed candles, 10, 20 and 30 closed by the next trade;
    40 too when the housekeeping closed its candle by the clock (2024 is
    long past) before the replay's end made the daemon exit: timing."""
    got = [v["sma_2"] for v in values]
    assert got in ([None, 15, 25], [None, 15, 25, 35]), values


def assert_disabled_once(err, what):
    line = S("plugin “@RAISING@” disabled: ") + what
    assert line in err, err
    assert err.count(S("plugin “@RAISING@” disabled")) == 1, err


def test_raising_indicator_is_disabled():
    status, err, values = raising_run("raise")
    assert status == 0, (status, err)
    # Logged once, by the hub, with the plugin's name and the traceback.
    assert_disabled_once(err, FAULTS["raise"])
    for where in FAULTS["trace"]:
        assert where in err, (where, err)
    # Its output stays null, the others go on.
    assert_sma_2(values)
    assert all(v["bad"] is None for v in values), values


def test_indicator_writing_a_string_is_disabled():
    status, err, values = raising_run("set")
    assert status == 0, (status, err)
    assert_disabled_once(err, FAULTS["set"])
    assert_sma_2(values)
    assert all(v["bad"] is None for v in values), values


def test_wrong_return_type_disables_at_load():
    status, err, values = raising_run("outputs")
    assert status == 0, (status, err)
    assert_disabled_once(err, FAULTS["outputs"])
    # Its outputs are unknown, so absent; the rest runs.
    assert_sma_2(values)
    assert all("bad" not in v for v in values), values


def test_raising_configure_disables_and_check_config_fails():
    status, err, values = raising_run("configure")
    assert status == 0, (status, err)
    assert_disabled_once(err, FAULTS["configure"])
    assert_sma_2(values)
    wd = Workdir()
    try:
        conf = wd.file("c.conf", "[tickhub]\nplugins=jsonl\nsymbols=BTC\nplugin-dirs=%s\n[jsonl]\npath=-\n"
                                 "[indicators]\nbad=@RAISING@(configure)\n" % TEST_PLUGINS)
        status, _, err = tickhubd(["--check-config", "--config", conf])
        assert status == 78, (status, err)
        assert (S("[tickhub] plugins: plugin “@RAISING@” ") + FAULTS["configure"]
                + "; tickhubd would run without it") in err, err
    finally:
        wd.cleanup()


def raising_sink_run(mode):
    wd = Workdir()
    try:
        conf = wd.file("s.conf",
                       "[tickhub]\nplugins=replay;jsonl;@RSINK@\nsymbols=BTC\ntimeframes=1m\nplugin-dirs=%s\n"
                       "[replay]\npath=%s\nexit-at-end=true\n"
                       "[jsonl]\npath=out.jsonl\nevents=financial_data_update\n"
                       "[@RSINK@]\nmode=%s\n" % (TEST_PLUGINS, replay_file(wd, [1.0, 2.0, 3.0]), mode))
        started = time.monotonic()
        status, _, err = tickhubd(["--config", conf])
        return status, err, wd.events(), time.monotonic() - started
    finally:
        wd.cleanup()


def test_raising_sink_is_disabled():
    status, err, events, _ = raising_sink_run("consume")
    # Disabled at the first event; the other sink got every one, and the
    # failed one is not flushed at exit.
    assert status == 0, (status, err)
    assert (S("plugin “@RSINK@” disabled: ") + FAULTS["consume"]) in err, err
    assert err.count(S("plugin “@RSINK@” disabled")) == 1, err
    assert [e["data"]["data"]["price"] for e in events] == [1.0, 2.0, 3.0], events


def test_raising_flush_does_not_hang_the_exit():
    status, err, events, seconds = raising_sink_run("flush")
    # The flush's failure ends the stop at once, as a failed flush.
    assert status == 1, (status, err)
    assert (S("plugin “@RSINK@” disabled: ") + FAULTS["flush"]) in err, err
    assert "flushing a sink failed" in err, err
    assert seconds < 10, seconds
    assert len(events) == 3, events


def test_typed_api_in_a_plugin():
    # A sink of the language under test connects to the hub's typed signals
    # and calls its getters; what it saw must be what the JSON events of a
    # jsonl sink of the same run say, in the same order.
    wd = Workdir()
    try:
        typed = wd.file("typed.jsonl")
        conf = wd.file("t.conf",
                       "[tickhub]\nplugins=replay;jsonl;@TSINK@;sma\nsymbols=BTC\ntimeframes=1m\nplugin-dirs=%s\n"
                       "[prices]\norder=binance\n"
                       "[indicators]\nsma_3=sma(3)\n"
                       "[replay]\npath=%s\nexit-at-end=true\n"
                       "[jsonl]\npath=out.jsonl\n"
                       "[@TSINK@]\npath=%s\n" % (TEST_PLUGINS, replay_file(wd, [1.0, 2.0, 4.0, 8.0, 16.0, 32.0]), typed))
        status, _, err = tickhubd(["--config", conf])
        assert status == 0, (status, err)
        assert S("plugin “@TSINK@” disabled") not in err, err
        events = wd.events()
        with open(typed) as f:
            seen = [json.loads(line) for line in f if line.strip()]
    finally:
        wd.cleanup()

    def ms(text):
        return int(GLib.DateTime.new_from_iso8601(text, GLib.TimeZone.new_utc()).to_unix()) * 1000

    signals = [x for x in seen if "signal" in x]
    expected = []
    for e in events:
        d = e["data"]
        if e["event"] == "financial_data_update":
            expected.append({"signal": "price-changed", "symbol": d["symbol"], "price": d["data"]["price"],
                             "source": d["data"]["source"]})
        elif e["event"] == "source_status":
            expected.append({"signal": "source-status-changed", "source": d["source"], "state": d["state"],
                             "reason": d["reason"]})
        elif e["event"] == "candle_update" and d["candle"]["closed"]:
            expected.append({"signal": "candle-closed", "symbol": d["symbol"], "timeframe": d["timeframe"],
                             "candle": {"start": ms(d["candle"]["start"]), "close": d["candle"]["close"],
                                        "closed": True}})
        elif e["event"] == "technical_indicators_update":
            expected.append({"signal": "indicators-updated", "symbol": d["symbol"], "timeframe": d["timeframe"],
                             "closed": d["closed"],
                             "values": [[k, v] for k, v in d["indicators"].items() if k != "timestamp"]})
    # The sink stops before the hub's last status reports (stopped): compare
    # what it could see.
    assert signals == expected[:len(signals)], (signals, expected)
    assert len([x for x in signals if x["signal"] == "candle-closed"]) == 5, signals
    assert len([x for x in signals if x["signal"] == "price-changed"]) == 6, signals

    getters = {x["getter"]: x for x in seen if "getter" in x}
    last = [e["data"] for e in events if e["event"] == "technical_indicators_update"][-1]
    assert getters["get_indicators"]["values"] == [["sma_3", last["indicators"]["sma_3"]]], (getters, last)
    assert getters["get_indicators"]["start"] == ms(last["indicators"]["timestamp"]), (getters, last)
    assert getters["get_indicators"]["closed"] == last["closed"], (getters, last)
    assert [c["close"] for c in getters["get_closed_candles"]["candles"]] == [1.0, 2.0, 4.0, 8.0, 16.0], getters
    assert getters["get_price"] == {"getter": "get_price", "price": 32.0, "source": "binance"}, getters


def test_js_syntax_error_is_named():
    # A syntax error is reported as one, with GJS's message, not as an
    # exception thrown while the module was evaluated.
    wd = Workdir()
    try:
        conf = wd.file("s.conf", "[tickhub]\nplugins=jsonl;syntax_js\nsymbols=BTC\nplugin-dirs=%s\n"
                                 "[jsonl]\npath=-\n" % TEST_PLUGINS)
        status, _, err = tickhubd(["--check-config", "--config", conf])
        assert status == 78, (status, err)
        assert "syntax_js.js has a syntax error: " in err, err
        assert "SyntaxError: expected property name, got ','" in err, err
        assert "threw while it was evaluated" not in err, err
    finally:
        wd.cleanup()


def test_broken_plugin_is_a_check_config_error():
    wd = Workdir()
    try:
        conf = wd.file("b.conf", "[tickhub]\nplugins=jsonl;@BROKEN@\nsymbols=BTC\nplugin-dirs=%s\n"
                                 "[jsonl]\npath=-\n" % TEST_PLUGINS)
        status, _, err = tickhubd(["--check-config", "--config", conf])
        assert status == 78, (status, err)
        assert S("[tickhub] plugins: plugin “@BROKEN@” failed to load") in err, err
        assert "tickhubd would run without it" in err, err
        # The loader logs the traceback.
        for where in FAULTS["broken"]:
            assert where in err, (where, err)
    finally:
        wd.cleanup()


def test_broken_plugin_is_disabled_and_the_daemon_runs():
    wd = Workdir()
    try:
        conf = wd.file("b.conf", "[tickhub]\nplugins=replay;jsonl;@BROKEN@\nsymbols=BTC\nplugin-dirs=%s\n"
                                 "[replay]\npath=%s\nexit-at-end=true\n[jsonl]\npath=out.jsonl\n"
                                 "events=financial_data_update\n"
                                 % (TEST_PLUGINS, replay_file(wd, [1.0, 2.0])))
        status, _, err = tickhubd(["--config", conf])
        assert status == 0, (status, err)
        assert S("plugin “@BROKEN@” disabled: failed to load") in err, err
        for where in FAULTS["broken"]:
            assert where in err, (where, err)
        assert [e["data"]["data"]["price"] for e in wd.events()] == [1.0, 2.0]
    finally:
        wd.cleanup()


# -- overrides -------------------------------------------------------------

def test_overrides():
    t = Tickhub.Tick(symbol="BTC", source="x", price=1.0, exchange_time=T0 * 1000)
    assert t.kind == Tickhub.TickKind.QUOTE and t.price == 1.0 and t.exchange_time == T0 * 1000
    assert repr(t) == ("Tickhub.Tick(symbol='BTC', source='x', kind=QUOTE, price=1.0, "
                       "exchange_time=2024-01-01T00:00:00.000Z)"), repr(t)
    when = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
    t = Tickhub.Tick("ETH", "y", 2, when, size=0.5, bid=1.5, quote="EUR")
    assert t.kind == Tickhub.TickKind.TRADE and t.quote == "EUR" and t.validate()
    assert t.to_json() == ('{"symbol":"ETH","price":2,"size":0.5,"bid":1.5,'
                           '"timestamp":"2024-01-01T00:00:00.000Z","source":"y","quote":"EUR"}'), t.to_json()
    try:
        Tickhub.Tick("BTC", "x", 1.0, 0, prize=2)
    except TypeError as e:
        assert "prize" in str(e)
    else:
        raise AssertionError("an unknown field was accepted")
    # The C constructor still works, and gives the same class.
    assert type(Tickhub.Tick.new("BTC", "x", Tickhub.TickKind.QUOTE, 1.0, 1)) is Tickhub.Tick

    c = Tickhub.Candle.new(T0 * 1000, 60 * 1000000, 1.0, 2.0, 0.5, 1.5, 10.0)
    assert repr(c).startswith("Tickhub.Candle(start=2024-01-01T00:00:00.000Z, duration=60s, open=1.0"), repr(c)

    ev = Tickhub.Event.new_from_json('{"event":"x","data":{"symbol":"ETH","n":[1,2]}}', -1)
    assert ev.data == {"symbol": "ETH", "n": [1, 2]}, ev.data
    assert repr(ev).startswith("Tickhub.Event(name='x', symbol='ETH'"), repr(ev)

    v = Tickhub.IndicatorValues.new(3)
    assert len(v) == 3 and all(math.isnan(x) for x in v)
    v[0] = 1
    v[-1] = 2.5
    assert v[0] == 1.0 and v[2] == 2.5 and math.isnan(v[1])
    for bad in (3, -4):
        try:
            v[bad] = 1.0
        except IndexError:
            pass
        else:
            raise AssertionError("index %d was accepted" % bad)

    config = Tickhub.Config.new()
    config.load_from_data("[tickhub]\nplugins=sma\nsymbols=BTC;ETH\n", -1)
    hub = Tickhub.Hub.new(config, Tickhub.ManualClock.new(T0 * 1000))
    hub.load()
    assert list(hub) == ["BTC", "ETH"] and "ETH" in hub and "XRP" not in hub


def main():
    tests = [
        test_zscore_matches_recomputation,
        test_zscore_twins_agree,
        test_zscore_in_process,
        test_zscore_provisional,
        test_zscore_bad_period,
        test_webhook_posts_selected_events,
        test_webhook_retries_failed_posts,
        test_webhook_bounded_queue,
        test_webhook_unreachable_fails_flush,
        test_webhook_bad_config,
        test_rest_poll_pushes_ticks,
        test_rest_poll_reports_down,
        test_rest_poll_deep_json,
        test_typed_api_in_a_plugin,
        test_js_syntax_error_is_named,
        test_rest_poll_stats_in_process,
        test_feed_source_name_in_process,
        test_broken_plugin_is_a_check_config_error,
        test_raising_sink_is_disabled,
        test_raising_flush_does_not_hang_the_exit,
        test_raising_indicator_is_disabled,
        test_indicator_writing_a_string_is_disabled,
        test_wrong_return_type_disables_at_load,
        test_raising_configure_disables_and_check_config_fails,
        test_broken_plugin_is_disabled_and_the_daemon_runs,
        test_overrides,
    ]
    # In-process checks of the Python side (PyGObject, libpeas's loader).
    python_only = (test_rest_poll_stats_in_process, test_feed_source_name_in_process, test_overrides)
    js_only = (test_js_syntax_error_is_named,)
    children = [a[len("--child="):] for a in sys.argv[1:] if a.startswith("--child=")]
    if children:
        globals()[children[0]]()
        return 0
    only = [a for a in sys.argv[1:] if not a.startswith("--")]
    print("1..%d" % len(tests))
    failed = 0
    for i, t in enumerate(tests, 1):
        if only and t.__name__ not in only:
            print("ok %d %s # SKIP not selected" % (i, t.__name__))
            continue
        if LANG != "py" and t in python_only:
            print("ok %d %s # SKIP Python only" % (i, t.__name__))
            continue
        if LANG != "js" and t in js_only:
            print("ok %d %s # SKIP JavaScript only" % (i, t.__name__))
            continue
        try:
            t()
            print("ok %d %s" % (i, t.__name__), flush=True)
        except Exception:
            failed += 1
            print("not ok %d %s" % (i, t.__name__))
            for line in traceback.format_exc().splitlines():
                print("# " + line)
            sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
