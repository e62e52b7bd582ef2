# rest_poll_py.py: a feed that polls a REST endpoint for prices
#
# Every `interval` seconds, GET `url` with libsoup 3's async API (one request
# in flight at most; nothing waits for it). The endpoint answers a JSON
# object mapping canonical symbols to prices:
#
#     {"BTC": 42000.5, "ETH": "2300.25"}
#
# Prices are numbers or numeric strings; symbols are matched upper-cased
# against [tickhub] symbols (others are skipped and counted). Each price
# becomes a quote from `source` (default "rest_poll_py"), timestamped when it
# was received, since the shape carries no time. The source is reported
# live after a good answer and down, with the reason, after a failure.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import json
import math

import gi

gi.require_version("Tickhub", "1.0")
gi.require_version("Soup", "3.0")
from gi.repository import Gio, GLib, GObject, Soup, Tickhub  # noqa: E402

NAME = "rest_poll_py"
LOG_DOMAIN = "Tickhub-RestPoll"
DEFAULT_TTL = 10.0  # the hub's default for sources it does not know


def _log(level, message):
    GLib.log_variant(LOG_DOMAIN, level,
                     GLib.Variant("a{sv}", {"MESSAGE": GLib.Variant("s", message)}))


def _price(value):
    """A positive finite price from a JSON number or numeric string, or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) and value > 0 else None


class RestPollFeed(GObject.Object, Tickhub.FeedSource):
    __gtype_name__ = "ThRestPollFeedPy"

    # Weak: the hub owns its plugins (a strong reference would be a cycle).
    def _get_hub(self):
        return self._hub() if self._hub is not None else None

    def _set_hub(self, hub):
        self._hub = hub.weak_ref() if hub is not None else None

    hub = GObject.Property(type=Tickhub.Hub, getter=_get_hub, setter=_set_hub,
                           flags=GObject.ParamFlags.READWRITE | GObject.ParamFlags.CONSTRUCT_ONLY)

    def __init__(self, **kwargs):
        self._hub = None
        self._session = None
        self._cancellable = None
        self._timer_id = 0
        self._in_flight = False
        self._last_poll = 0          # monotonic µs
        self._state = None
        self._stats = dict.fromkeys(("requests", "errors", "ticks", "bad_values", "unknown_symbols"), 0)
        super().__init__(**kwargs)

    def do_configure(self):
        hub = self.hub
        config = hub.get_config()
        problems = []
        self._url = config.get_string(NAME, "url", "")
        self._interval = config.get_double(NAME, "interval", 5.0)
        self._source = config.get_string(NAME, "source", NAME)
        self._timeout = config.get_double(NAME, "timeout", 10.0)
        ttl = config.get_double(NAME, "ttl", DEFAULT_TTL)

        if not self._url:
            problems.append("[%s] url: missing; give the endpoint's http:// or https:// URL" % NAME)
        if not 0.1 <= self._interval <= 86400:
            problems.append("[%s] interval: %g is out of range; use 0.1 to 86400 seconds" % (NAME, self._interval))
        elif ttl > 0 and self._interval >= ttl:
            problems.append("[%s] interval: %g s is not shorter than the ttl (%g s): the source would go "
                            "stale between polls; poll more often or raise ttl" % (NAME, self._interval, ttl))
        if not self._source:
            problems.append("[%s] source: must not be empty" % NAME)
        if not 1 <= self._timeout <= 300:
            problems.append("[%s] timeout: %g is out of range; use 1 to 300 seconds" % (NAME, self._timeout))
        if problems:
            raise GLib.Error("\n".join(problems), GLib.quark_to_string(Tickhub.error_quark()),
                             Tickhub.Error.BAD_CONFIG)

        # The hub sets the ttl of the source named after the module; give a
        # renamed source the same one.
        if self._source != NAME and ttl > 0:
            hub.get_price_book().set_ttl(self._source, int(ttl * 1e6))
        return True

    def do_start(self):
        self._cancellable = Gio.Cancellable()
        self._session = Soup.Session(timeout=int(self._timeout))
        self._report(Tickhub.SourceState.CONNECTING, "polling %s" % self._url)
        self._poll()
        self._timer_id = GLib.timeout_add(int(self._interval * 1000), self._on_timer)

    def do_stop(self):
        if self._timer_id:
            GLib.source_remove(self._timer_id)
            self._timer_id = 0
        if self._cancellable is not None:
            self._cancellable.cancel()
        if self._session is not None:
            self._session.abort()
            self._session = None
        self._report(Tickhub.SourceState.DISABLED, "stopped")

    def do_request_price(self, symbol):
        # Called on every miss of every client: poll at most once a second.
        if GLib.get_monotonic_time() - self._last_poll >= 1000000:
            self._poll()

    def do_get_source_name(self):
        # The `source` key: D-Bus's ListSources finds the feed under it.
        # None before configure: the hub names the feed after the module.
        return getattr(self, "_source", None)

    def do_get_stats(self):
        return GLib.Variant("a{sv}", {k: GLib.Variant("t", v) for k, v in self._stats.items()})

    def _on_timer(self):
        self._poll()
        return GLib.SOURCE_CONTINUE

    def _poll(self):
        if self._in_flight or self._session is None:
            return
        message = Soup.Message.new("GET", self._url)
        message.get_request_headers().append("Accept", "application/json")
        self._in_flight = True
        self._last_poll = GLib.get_monotonic_time()
        self._stats["requests"] += 1
        self._session.send_and_read_async(message, GLib.PRIORITY_DEFAULT, self._cancellable,
                                          self._on_answer, message)

    def _on_answer(self, session, result, message):
        try:
            body = session.send_and_read_finish(result)
        except GLib.Error as e:
            if e.matches(Gio.io_error_quark(), Gio.IOErrorEnum.CANCELLED):
                return  # stopped
            self._in_flight = False
            self._fail(e.message)
            return
        self._in_flight = False
        status = message.get_status()
        if status != 200:
            self._fail("HTTP %d %s" % (status, message.get_reason_phrase() or ""))
            return
        try:
            prices = json.loads(body.get_data() or b"")
        except RecursionError:  # nested deeper than the interpreter's stack
            self._fail("invalid JSON: nested too deeply")
            return
        except ValueError as e:
            self._fail("invalid JSON: %s" % e)
            return
        if not isinstance(prices, dict):
            self._fail("expected a JSON object like {\"BTC\": 42000.5}, got %s" % type(prices).__name__)
            return
        self._push(prices)

    def _push(self, prices):
        hub = self.hub
        if hub is None:
            return
        now = hub.get_clock().get_time()
        for name, value in prices.items():
            symbol = name.upper()
            price = _price(value)
            if price is None:
                self._stats["bad_values"] += 1
                continue
            if not hub.has_symbol(symbol):
                self._stats["unknown_symbols"] += 1
                continue
            hub.push_tick(Tickhub.Tick.new(symbol, self._source, Tickhub.TickKind.QUOTE, price, now))
            self._stats["ticks"] += 1
        self._report(Tickhub.SourceState.LIVE, None)

    def _fail(self, reason):
        self._stats["errors"] += 1
        self._report(Tickhub.SourceState.DOWN, "%s: %s" % (self._url, reason))

    def _report(self, state, reason):
        # One report (and one log line) per change.
        if self._state == (state, reason):
            return
        self._state = (state, reason)
        hub = self.hub
        if hub is not None:
            hub.report_source_status(self._source, state, reason)
