// typed_sink_js.js: the JavaScript twin of typed_sink_py: a sink that uses
// the hub's typed API instead of the JSON events, recording the signals as
// they come and, at stop, what the getters say, as JSON lines in
// [typed_sink_js] path.
//
// SPDX-License-Identifier: LGPL-2.1-or-later

import GLib from 'gi://GLib';
import GObject from 'gi://GObject';
import Tickhub from 'gi://Tickhub?version=1.0';

function candle(c) {
    return {start: Math.floor(c.start / 1000), close: c.close, closed: c.closed};
}

// a{sd} as [[name, value], ...] in order; NaN as null (as JSON.stringify).
function values(v) {
    const out = [];
    for (let i = 0; i < v.n_children(); i++) {
        const [name, value] = v.get_child_value(i).deepUnpack();
        out.push([name, Number.isNaN(value) ? null : value]);
    }
    return out;
}

export const TypedSink = GObject.registerClass({
    GTypeName: 'ThTypedSinkJs',
    Implements: [Tickhub.Sink],
    Properties: {
        'hub': GObject.ParamSpec.override('hub', Tickhub.Sink),
    },
}, class TypedSink extends GObject.Object {
    get hub() {
        return this._hub ?? null;
    }

    set hub(hub) {
        this._hub = hub;
    }

    vfunc_configure() {
        this._path = this.hub.get_config().get_string('typed_sink_js', 'path', null);
        this._lines = [];
        this._ids = [];
        return true;
    }

    vfunc_start() {
        const hub = this.hub;
        this._ids = [
            hub.connect('price-changed', (h, symbol, price) => {
                this._lines.push({signal: 'price-changed', symbol, price: price.price, source: price.source});
            }),
            hub.connect('source-status-changed', (h, source, state, reason) => {
                this._lines.push({signal: 'source-status-changed', source,
                    state: Tickhub.source_state_to_string(state), reason});
            }),
            hub.connect('candle-closed', (h, symbol, timeframe, c) => {
                this._lines.push({signal: 'candle-closed', symbol, timeframe, candle: candle(c)});
            }),
            hub.connect('indicators-updated', (h, symbol, timeframe, c, v) => {
                this._lines.push({signal: 'indicators-updated', symbol, timeframe, closed: c.closed,
                    values: values(v)});
            }),
        ];
    }

    vfunc_consume(event) {
    }

    vfunc_stop() {
        const hub = this.hub;
        for (const id of this._ids)
            hub.disconnect(id);
        this._ids = [];
        const [v, start, closed] = hub.get_indicators('BTC', '1m');
        this._lines.push({getter: 'get_indicators', start: Math.floor(start / 1000), closed, values: values(v)});
        this._lines.push({getter: 'get_closed_candles',
            candles: hub.get_closed_candles('BTC', '1m', 100).map(candle)});
        const price = hub.get_price('BTC');
        this._lines.push({getter: 'get_price', price: price.price, source: price.source});
        const text = this._lines.map(l => JSON.stringify(l)).join('\n') + '\n';
        GLib.file_set_contents(this._path, text);
    }
});
