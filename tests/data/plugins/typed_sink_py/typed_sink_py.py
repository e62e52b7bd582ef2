# typed_sink_py.py: a sink that uses the hub's typed API instead of the
# JSON events: it records ::price-changed, ::source-status-changed,
# ::candle-closed and ::indicators-updated as they come, and at stop what
# the getters say, as JSON lines in [typed_sink_py] path (the test compares
# them with the events of a jsonl sink of the same run).
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import json
import math

import gi

gi.require_version("Tickhub", "1.0")
from gi.repository import GObject, Tickhub  # noqa: E402


def number(value):
    return None if math.isnan(value) else value


def candle(c):
    return {"start": c.start // 1000, "close": c.close, "closed": c.closed}


class TypedSink(GObject.Object, Tickhub.Sink):
    __gtype_name__ = "ThTypedSinkPy"

    hub = GObject.Property(type=Tickhub.Hub,
                           flags=GObject.ParamFlags.READWRITE | GObject.ParamFlags.CONSTRUCT_ONLY)

    def do_configure(self):
        self._path = self.props.hub.get_config().get_string("typed_sink_py", "path", None)
        self._lines = []
        self._ids = []
        return True

    def do_start(self):
        hub = self.props.hub
        self._ids = [
            hub.connect("price-changed", self._on_price),
            hub.connect("source-status-changed", self._on_status),
            hub.connect("candle-closed", self._on_candle),
            hub.connect("indicators-updated", self._on_indicators),
        ]

    def _on_price(self, hub, symbol, price):
        self._lines.append({"signal": "price-changed", "symbol": symbol, "price": price.price,
                            "source": price.source})

    def _on_status(self, hub, source, state, reason):
        self._lines.append({"signal": "source-status-changed", "source": source,
                            "state": Tickhub.source_state_to_string(state), "reason": reason})

    def _on_candle(self, hub, symbol, timeframe, c):
        self._lines.append({"signal": "candle-closed", "symbol": symbol, "timeframe": timeframe,
                            "candle": candle(c)})

    def _on_indicators(self, hub, symbol, timeframe, c, values):
        self._lines.append({"signal": "indicators-updated", "symbol": symbol, "timeframe": timeframe,
                            "closed": c.closed,
                            "values": [[k, number(v)] for k, v in values.unpack().items()]})

    def do_consume(self, event):
        pass

    def do_stop(self):
        hub = self.props.hub
        for i in self._ids:
            hub.disconnect(i)
        self._ids = []
        values, start, closed = hub.get_indicators("BTC", "1m")
        self._lines.append({"getter": "get_indicators", "start": start // 1000, "closed": closed,
                            "values": [[k, number(v)] for k, v in values.unpack().items()]})
        self._lines.append({"getter": "get_closed_candles",
                            "candles": [candle(c) for c in hub.get_closed_candles("BTC", "1m", 100)]})
        price = hub.get_price("BTC")
        self._lines.append({"getter": "get_price", "price": price.price, "source": price.source})
        with open(self._path, "w") as f:
            for line in self._lines:
                f.write(json.dumps(line) + "\n")
