# raising_py.py: an indicator that fails in update, for tests.
# raising_py(raise): update raises; raising_py(outputs): get_outputs returns
# the wrong type; raising_py(set): update writes a string into the values;
# raising_py(configure): configure raises a ValueError (not a GLib.Error).
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import gi

gi.require_version("Tickhub", "1.0")
from gi.repository import GObject, Tickhub  # noqa: E402


class Raising(GObject.Object, Tickhub.Indicator):
    __gtype_name__ = "ThRaisingPy"

    hub = GObject.Property(type=Tickhub.Hub,
                           flags=GObject.ParamFlags.READWRITE | GObject.ParamFlags.CONSTRUCT_ONLY)

    mode = "raise"

    def do_configure(self, args):
        self.mode = args[0] if args else "raise"
        if self.mode == "configure":
            raise ValueError("raising_py fails on purpose in configure")
        return True

    def do_get_outputs(self):
        if self.mode == "outputs":
            return 42
        return [""]

    def do_update(self, candle, commit, values):
        if self.mode == "set":
            values.set(0, "not a number")
        elif self.mode == "raise":
            raise ZeroDivisionError("raising_py fails on purpose at %r" % candle.close)
        else:
            values.set(0, candle.close)
