# Tickhub.py: PyGObject overrides for the Tickhub-1.0 typelib
#
# Small conveniences that make the API feel like Python: keyword
# construction of ticks, readable reprs, Event.data as a dict, item access
# on IndicatorValues and iteration over a hub's symbols. Everything else is
# the typelib as it is. PyGObject loads this file when a program does
# `from gi.repository import Tickhub` and it lies in a gi/overrides folder on
# sys.path (installed: the interpreter's site directory; uninstalled:
# PYTHONPATH=<source>/bindings/python).
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import datetime
import json
import math

from ..module import get_introspection_module
from ..overrides import override

Tickhub = get_introspection_module("Tickhub")

__all__ = []


def _iso(us):
    try:
        t = datetime.datetime.fromtimestamp(us / 1e6, datetime.timezone.utc)
    except (OverflowError, OSError, ValueError):
        return repr(us)
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _us(value):
    """µs since the epoch from an int or an aware datetime."""
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            raise ValueError("exchange_time: give an aware datetime (with tzinfo) or µs since the epoch")
        return round(value.timestamp() * 1e6)
    return int(value)


_TICK_STRINGS = ("quote",)
_TICK_NUMBERS = ("size", "bid", "ask", "volume_24h", "change_24h", "receive_time")


class Tick(Tickhub.Tick):
    """Tickhub.Tick(symbol, source, price, exchange_time, kind=None, **fields)

    exchange_time is µs since the epoch or an aware datetime; kind defaults
    to TRADE when size is given, QUOTE otherwise; fields are quote, size,
    bid, ask, volume_24h, change_24h and receive_time.
    """

    def __new__(cls, symbol, source, price, exchange_time, kind=None, **fields):
        for name in fields:
            if name not in _TICK_STRINGS and name not in _TICK_NUMBERS:
                raise TypeError("Tick() got an unexpected keyword argument %r" % name)
        if kind is None:
            kind = Tickhub.TickKind.TRADE if "size" in fields else Tickhub.TickKind.QUOTE
        tick = Tickhub.Tick.new(symbol, source, kind, float(price), _us(exchange_time))
        if "quote" in fields:
            tick.set_quote(fields.pop("quote"))
        for name, value in fields.items():
            setattr(tick, name, int(value) if name == "receive_time" else float(value))
        return tick

    def __init__(self, *args, **kwargs):
        pass  # built in __new__ by th_tick_new(): a boxed with a reference count

    def __repr__(self):
        parts = ["symbol=%r" % self.symbol, "source=%r" % self.source,
                 "kind=%s" % self.kind.value_nick.upper(), "price=%r" % self.price]
        for name in ("size", "bid", "ask", "volume_24h", "change_24h"):
            value = getattr(self, name)
            if not math.isnan(value):
                parts.append("%s=%r" % (name, value))
        if self.quote:
            parts.append("quote=%r" % self.quote)
        parts.append("exchange_time=%s" % _iso(self.exchange_time))
        return "Tickhub.Tick(%s)" % ", ".join(parts)


Tick = override(Tick)
__all__.append("Tick")


class Candle(Tickhub.Candle):
    def __repr__(self):
        return ("Tickhub.Candle(start=%s, duration=%ss, open=%r, high=%r, low=%r, close=%r, "
                "volume=%r, ticks=%d, closed=%r)"
                % (_iso(self.start), "%g" % (self.duration / 1e6), self.open, self.high, self.low,
                   self.close, self.volume, self.ticks, bool(self.closed)))


Candle = override(Candle)
__all__.append("Candle")


class Event(Tickhub.Event):
    @property
    def data(self):
        """The event's `data` member as Python objects (a new dict each time)."""
        return json.loads(self.get_json())["data"]

    def __repr__(self):
        text = self.get_json()
        if len(text) > 120:
            text = text[:117] + "..."
        return "Tickhub.Event(name=%r, symbol=%r, json=%r)" % (self.get_name(), self.get_symbol(), text)


Event = override(Event)
__all__.append("Event")


class IndicatorValues(Tickhub.IndicatorValues):
    """Item access: values[0] = z; len(values); list(values) (NaN = unset)."""

    def __len__(self):
        return self.get_n_values()

    def _index(self, index):
        n = self.get_n_values()
        if not isinstance(index, int):
            raise TypeError("IndicatorValues indices must be integers, not %s" % type(index).__name__)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError("IndicatorValues index %d out of range (%d outputs)" % (index, n))
        return index

    def __getitem__(self, index):
        return self.get(self._index(index))

    def __setitem__(self, index, value):
        self.set(self._index(index), float(value))

    def __iter__(self):
        return (self.get(i) for i in range(self.get_n_values()))

    def __repr__(self):
        return "Tickhub.IndicatorValues(%r)" % list(self)


IndicatorValues = override(IndicatorValues)
__all__.append("IndicatorValues")


class Hub(Tickhub.Hub):
    """Iterating a hub gives its symbols; `"BTC" in hub` asks has_symbol()."""

    def __iter__(self):
        return iter(self.get_symbols() or [])

    def __contains__(self, symbol):
        return self.has_symbol(symbol)


Hub = override(Hub)
__all__.append("Hub")


# -- guards on the plugin interfaces -------------------------------------
#
# PyGObject prints an exception raised in a vfunc and returns a default
# value, again at every call, without saying which plugin it was. A class
# that implements Tickhub.FeedSource, Tickhub.Sink or Tickhub.Indicator gets
# each of its do_* methods wrapped instead: an exception disables the plugin
# through Hub.disable_plugin() with the method, the exception and the
# traceback (logged once by the hub), and the call returns what the hub
# reads as "nothing" (False from configure, None from get_outputs,
# get_stats and get_source_name, True from keeps_alive; a flush_async that
# raises completes the caller's task with the error, so a shutdown does not
# wait for it). A GLib.Error raised by configure or flush_finish is not a
# fault but the method's answer (a config problem, a failed flush): it goes
# through to C as the GError.
#
# The plugin is named after the Python module that defines the class: the
# module name libpeas imported, the one of [tickhub] plugins.

import functools  # noqa: E402
import traceback  # noqa: E402

from gi.repository import Gio, GLib  # noqa: E402

_FALLBACK = {"do_configure": False, "do_get_outputs": None, "do_get_stats": None,
             "do_flush_finish": False, "do_get_source_name": None, "do_keeps_alive": True}
_ANSWERS_WITH_GERROR = ("do_configure", "do_flush_finish")


def _hub_of(obj):
    try:
        hub = obj.get_property("hub")
    except Exception:  # noqa: BLE001 - a broken property is one more fault
        return None
    return hub if isinstance(hub, Tickhub.Hub) else None


def _check_outputs(result):
    if isinstance(result, (list, tuple)) and all(isinstance(s, str) for s in result):
        return result
    raise TypeError("get_outputs must return a list of strings, not %r" % (result,))


def _guard(cls, name, method):
    fallback = _FALLBACK.get(name)
    answers = name in _ANSWERS_WITH_GERROR
    checked = name == "do_get_outputs"
    where = "%s.%s" % (cls.__qualname__, name)

    @functools.wraps(method)
    def guarded(self, *args):
        try:
            result = method(self, *args)
            return _check_outputs(result) if checked else result
        except GLib.Error:
            if answers:
                raise
            error = traceback.format_exc()
        except Exception:  # noqa: BLE001 - every fault of a script is reported
            error = traceback.format_exc()
        lines = error.rstrip().splitlines()
        reason = "%s raised %s\n%s" % (where, lines[-1], "\n".join(lines[:-1]))
        hub = _hub_of(self)
        plugin = type(self).__module__
        if hub is not None:
            hub.disable_plugin(plugin, reason)
        else:
            GLib.log_default_handler("Tickhub", GLib.LogLevelFlags.LEVEL_WARNING,
                                     "plugin “%s” (no hub to disable it): %s" % (plugin, reason))
        if name == "do_flush_async" and len(args) >= 2 and callable(args[1]):
            # The caller waits for its callback: give it the failure.
            task = Gio.Task.new(self, args[0], args[1])
            task.return_error(GLib.Error("%s: %s" % (where, lines[-1]),
                                         GLib.quark_to_string(Tickhub.error_quark()), Tickhub.Error.PLUGIN))
        return fallback

    guarded._tickhub_guarded = True
    return guarded


def _guard_class(cls):
    for name, value in list(vars(cls).items()):
        if name.startswith("do_") and callable(value) and not getattr(value, "_tickhub_guarded", False):
            setattr(cls, name, _guard(cls, name, value))


def _guarded_interface(iface):
    class Guarded(iface):
        def __init_subclass__(cls, **kwargs):
            super().__init_subclass__(**kwargs)
            _guard_class(cls)

    Guarded.__name__ = Guarded.__qualname__ = iface.__name__
    return Guarded


FeedSource = override(_guarded_interface(Tickhub.FeedSource))
Sink = override(_guarded_interface(Tickhub.Sink))
Indicator = override(_guarded_interface(Tickhub.Indicator))
__all__ += ["FeedSource", "Sink", "Indicator"]
