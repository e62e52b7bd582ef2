#!/usr/bin/python3
# test-gi.py: the Tickhub-1.0 typelib from Python (Debian's /usr/bin/python3),
# as a plugin author or a script would use it. Prints TAP.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import math
import sys
import traceback

import gi

gi.require_version("Tickhub", "1.0")
from gi.repository import GLib, Tickhub  # noqa: E402

T0 = 1704067200 * 1000000  # 2024-01-01T00:00:00Z in µs


def test_tick():
    t = Tickhub.Tick.new("BTC", "binance", Tickhub.TickKind.TRADE, 42000.5, T0)
    assert t.symbol == "BTC"
    assert t.source == "binance"
    assert t.kind == Tickhub.TickKind.TRADE
    assert math.isnan(t.bid)
    t.size = 0.1
    t.bid = 42000.0
    assert t.validate()
    assert t.to_json() == ('{"symbol":"BTC","price":42000.5,"size":0.1,"bid":42000,'
                           '"timestamp":"2024-01-01T00:00:00.000Z","source":"binance"}')
    t.price = -1.0
    try:
        t.validate()
    except GLib.Error as e:
        assert e.matches(Tickhub.error_quark(), Tickhub.Error.BAD_INPUT), e
    else:
        raise AssertionError("a negative price validated")


def test_price_book_with_manual_clock():
    clock = Tickhub.ManualClock.new(T0)
    book = Tickhub.PriceBook.new(clock)
    book.set_order(["binance", "coinbase"])
    changes = []
    book.connect("source-changed", lambda b, s, f, t: changes.append((s, f, t)))
    book.update(Tickhub.Tick.new("BTC", "binance", Tickhub.TickKind.QUOTE, 100.0, T0))
    book.update(Tickhub.Tick.new("BTC", "coinbase", Tickhub.TickKind.QUOTE, 99.0, T0))
    assert book.get_selected("BTC") == "binance"
    clock.advance(10 * 1000000)
    assert book.get_selected("BTC") is None
    assert changes == [("BTC", None, "binance"), ("BTC", "binance", None)], changes
    try:
        book.lookup("BTC")
    except GLib.Error as e:
        assert e.matches(Tickhub.error_quark(), Tickhub.Error.NO_SOURCE)
        assert "binance: last price 10.0 s old" in e.message, e.message
    else:
        raise AssertionError("a stale price was returned")


def test_hub_events():
    config = Tickhub.Config.new()
    config.load_from_data(
        "[tickhub]\nplugins=sma\nsymbols=BTC\ntimeframes=1m\n"
        "[prices]\norder=binance\n[indicators]\nsma_2=sma(2)\n", -1)
    clock = Tickhub.ManualClock.new(T0)
    hub = Tickhub.Hub.new(config, clock)
    hub.load()
    events = []
    hub.connect("event", lambda h, ev: events.append((ev.get_name(), ev.get_json())))
    hub.start()
    for i, price in enumerate([10.0, 20.0, 30.0]):
        t = Tickhub.Tick.new("BTC", "binance", Tickhub.TickKind.QUOTE, price, T0 + i * 60 * 1000000)
        hub.push_tick(t)
    names = [n for n, _ in events]
    assert names.count("financial_data_update") == 3, names
    indicators = [j for n, j in events if n == "technical_indicators_update"]
    assert '"sma_2":null' in indicators[0], indicators
    assert '"sma_2":15' in indicators[1], indicators
    assert hub.list_plugins() == ["sma"]
    assert hub.get_symbols() == ["BTC"]
    price = hub.get_price("BTC")
    assert price.price == 30.0 and price.source == "binance"


def test_event_data():
    ev = Tickhub.Event.new_from_json('{"event":"x","data":{"symbol":"ETH","n":[1,2]}}', -1)
    assert ev.get_symbol() == "ETH"
    data = ev.get_data().get_object()
    assert data.get_array_member("n").get_length() == 2


def main():
    tests = [test_tick, test_price_book_with_manual_clock, test_hub_events, test_event_data]
    print("1..%d" % len(tests))
    failed = 0
    for i, t in enumerate(tests, 1):
        try:
            t()
            print("ok %d %s" % (i, t.__name__))
        except Exception:
            failed += 1
            print("not ok %d %s" % (i, t.__name__))
            for line in traceback.format_exc().splitlines():
                print("# " + line)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
