# raising_sink_py.py: a sink that fails where [raising_sink_py] mode says:
# consume raises at the first event, or flush_async raises at shutdown.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import gi

gi.require_version("Tickhub", "1.0")
from gi.repository import GLib, GObject, Tickhub  # noqa: E402


class RaisingSink(GObject.Object, Tickhub.Sink):
    __gtype_name__ = "ThRaisingSinkPy"

    hub = GObject.Property(type=Tickhub.Hub,
                           flags=GObject.ParamFlags.READWRITE | GObject.ParamFlags.CONSTRUCT_ONLY)

    def do_configure(self):
        self._mode = self.props.hub.get_config().get_string("raising_sink_py", "mode", "consume")
        return True

    def do_consume(self, event):
        if self._mode == "consume":
            raise KeyError("raising_sink_py fails on purpose in consume")

    def do_flush_async(self, cancellable, callback, user_data):
        raise RuntimeError("raising_sink_py fails on purpose in flush")

    def do_flush_finish(self, result):
        return result.propagate_boolean()
