# zscore_py.py: rolling z-score of the close, zscore_py(N)
#
# z = (close - mean) / std over the last N closes (the current one
# included), with the population standard deviation, as Bollinger %b and
# most charting packages compute it. No value until N closes are known, and
# none while the window is flat (std = 0: the z-score is undefined).
#
# O(1) per update: a ring of the last N closes and running sums of
# (x - shift) and (x - shift)^2, where shift is a close of the window (the
# first one, then the newest at each recomputation), so a price that moves
# only in its last digits keeps its precision. The sums
# are recomputed from the ring every N updates, so rounding cannot add up.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import math

import gi

gi.require_version("Tickhub", "1.0")
from gi.repository import GLib, GObject, Tickhub  # noqa: E402

MAX_PERIOD = 10000


def _bad_config(message):
    return GLib.Error(message, GLib.quark_to_string(Tickhub.error_quark()),
                      Tickhub.Error.BAD_CONFIG)


class ZScore(GObject.Object, Tickhub.Indicator):
    __gtype_name__ = "ThZScorePy"

    # Set by the hub at construction. Kept as a weak reference: the hub owns
    # its plugins, and a strong one would make a cycle that keeps it alive.
    def _get_hub(self):
        return self._hub() if self._hub is not None else None

    def _set_hub(self, hub):
        self._hub = hub.weak_ref() if hub is not None else None

    hub = GObject.Property(type=Tickhub.Hub, getter=_get_hub, setter=_set_hub,
                           flags=GObject.ParamFlags.READWRITE | GObject.ParamFlags.CONSTRUCT_ONLY)

    def __init__(self, **kwargs):
        self._hub = None
        self._period = 0
        super().__init__(**kwargs)

    def _reset(self):
        self._ring = [0.0] * self._period
        self._head = 0          # next slot to write
        self._count = 0         # closes known, up to the period
        self._since_recompute = 0
        self._shift = 0.0
        self._sum = 0.0         # sum of (x - shift)
        self._sumsq = 0.0       # sum of (x - shift)^2

    def do_configure(self, args):
        if args is None or len(args) != 1:
            raise _bad_config("zscore_py takes one argument, the period; write it like zscore_py(20)")
        text = args[0]
        if not (text.isascii() and text.isdigit()) or not 2 <= int(text) <= MAX_PERIOD:
            raise _bad_config("zscore_py period “%s” is not a whole number from 2 to %d; "
                              "write it like zscore_py(20)" % (text, MAX_PERIOD))
        self._period = int(text)
        self._reset()
        return True

    def do_get_outputs(self):
        return [""]  # one output, named as configured

    def _recompute(self):
        self._shift = self._ring[(self._head - 1) % self._period]
        s = sq = 0.0
        for i in range(self._count):
            d = self._ring[i] - self._shift
            s += d
            sq += d * d
        self._sum, self._sumsq = s, sq
        self._since_recompute = 0

    def _zscore(self, x, s, sq):
        n = self._period
        mean = s / n
        var = sq / n - mean * mean
        if not var > 0.0:
            return None
        return (x - self._shift - mean) / math.sqrt(var)

    def do_update(self, candle, commit, values):
        n = self._period
        x = candle.close
        if n == 0 or not math.isfinite(x):
            return
        if self._count == 0:
            self._shift = x  # the first close of the window, until a recomputation
        full = self._count == n
        oldest = self._ring[self._head] - self._shift if full else 0.0
        d = x - self._shift
        s = self._sum + d - oldest
        sq = self._sumsq + d * d - oldest * oldest

        if not commit:
            # The forming candle as if it were the next close; state unchanged.
            if self._count + 1 >= n:
                z = self._zscore(x, s, sq)
                if z is not None:
                    values.set(0, z)
            return

        self._ring[self._head] = x
        self._head = (self._head + 1) % n
        if not full:
            self._count += 1
        self._sum, self._sumsq = s, sq
        self._since_recompute += 1
        if self._since_recompute >= n:
            self._recompute()

        if self._count == n:
            z = self._zscore(x, self._sum, self._sumsq)
            if z is not None:
                values.set(0, z)
