// raising_sink_js.js: a sink that fails where [raising_sink_js] mode says:
// consume throws at the first event, or flush throws at shutdown.
//
// SPDX-License-Identifier: LGPL-2.1-or-later

import GObject from 'gi://GObject';
import Tickhub from 'gi://Tickhub?version=1.0';

export const RaisingSink = GObject.registerClass({
    GTypeName: 'ThRaisingSinkJs',
    Implements: [Tickhub.Sink],
    Properties: {
        'hub': GObject.ParamSpec.override('hub', Tickhub.Sink),
    },
}, class RaisingSink extends GObject.Object {
    get hub() {
        return this._hub ?? null;
    }

    set hub(hub) {
        this._hub = hub;
    }

    vfunc_configure() {
        this._mode = this.hub.get_config().get_string('raising_sink_js', 'mode', 'consume');
        return true;
    }

    vfunc_consume(event) {
        if (this._mode === 'consume')
            throw new ReferenceError('raising_sink_js fails on purpose in consume');
    }

    vfunc_flush(task) {
        throw new Error('raising_sink_js fails on purpose in flush');
    }
});
