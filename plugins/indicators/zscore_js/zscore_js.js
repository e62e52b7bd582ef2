// zscore_js.js: rolling z-score of the close, zscore_js(N)
//
// The JavaScript twin of zscore_py: z = (close - mean) / std over the last
// N closes (the current one included), population standard deviation. No
// value until N closes are known, none while the window is flat.
//
// O(1) per update: a ring of the last N closes and running sums of
// (x - shift) and (x - shift)^2, where shift is a close of the window; the
// sums are recomputed from the ring every N updates so rounding cannot add
// up. Values go out through `values.set()`: a vfunc never returns a double
// (GJS 1.74 corrupts doubles returned to C).
//
// SPDX-License-Identifier: LGPL-2.1-or-later

import GLib from 'gi://GLib';
import GObject from 'gi://GObject';
import Tickhub from 'gi://Tickhub?version=1.0';

const MAX_PERIOD = 10000;

function badConfig(message) {
    return new GLib.Error(Tickhub.error_quark(), Tickhub.Error.BAD_CONFIG, message);
}

export const ZScore = GObject.registerClass({
    GTypeName: 'ThZScoreJs',
    Implements: [Tickhub.Indicator],
    Properties: {
        // Set by the hub at construction.
        'hub': GObject.ParamSpec.override('hub', Tickhub.Indicator),
    },
}, class ZScore extends GObject.Object {
    constructor(params = {}) {
        super(params);
        this._period = 0;
    }

    get hub() {
        return this._hub ?? null;
    }

    set hub(hub) {
        this._hub = hub;
    }

    vfunc_configure(args) {
        if (!args || args.length !== 1)
            throw badConfig('zscore_js takes one argument, the period; write it like zscore_js(20)');
        const text = args[0];
        const n = /^[0-9]+$/.test(text) ? Number(text) : NaN;
        if (!(n >= 2 && n <= MAX_PERIOD)) {
            throw badConfig(`zscore_js period “${text}” is not a whole number from 2 to ${MAX_PERIOD}; ` +
                            'write it like zscore_js(20)');
        }
        this._period = n;
        this._ring = new Float64Array(n);
        this._head = 0;            // next slot to write
        this._count = 0;           // closes known, up to the period
        this._sinceRecompute = 0;
        this._shift = 0;
        this._sum = 0;             // sum of (x - shift)
        this._sumsq = 0;           // sum of (x - shift)^2
        return true;
    }

    vfunc_get_outputs() {
        return [''];               // one output, named as configured
    }

    _recompute() {
        const n = this._period;
        this._shift = this._ring[(this._head + n - 1) % n];
        let s = 0, sq = 0;
        for (let i = 0; i < this._count; i++) {
            const d = this._ring[i] - this._shift;
            s += d;
            sq += d * d;
        }
        this._sum = s;
        this._sumsq = sq;
        this._sinceRecompute = 0;
    }

    _zscore(x, s, sq) {
        const n = this._period;
        const mean = s / n;
        const variance = sq / n - mean * mean;
        if (!(variance > 0))
            return null;
        return (x - this._shift - mean) / Math.sqrt(variance);
    }

    vfunc_update(candle, commit, values) {
        const n = this._period;
        const x = candle.close;
        if (n === 0 || !Number.isFinite(x))
            return;
        if (this._count === 0)
            this._shift = x;       // the first close of the window, until a recomputation
        const full = this._count === n;
        const oldest = full ? this._ring[this._head] - this._shift : 0;
        const d = x - this._shift;
        const s = this._sum + d - oldest;
        const sq = this._sumsq + d * d - oldest * oldest;

        if (!commit) {
            // The forming candle as if it were the next close; state unchanged.
            if (this._count + 1 >= n) {
                const z = this._zscore(x, s, sq);
                if (z !== null)
                    values.set(0, z);
            }
            return;
        }

        this._ring[this._head] = x;
        this._head = (this._head + 1) % n;
        if (!full)
            this._count++;
        this._sum = s;
        this._sumsq = sq;
        if (++this._sinceRecompute >= n)
            this._recompute();

        if (this._count === n) {
            const z = this._zscore(x, this._sum, this._sumsq);
            if (z !== null)
                values.set(0, z);
        }
    }
});
