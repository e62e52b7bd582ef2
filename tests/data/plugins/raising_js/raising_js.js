// raising_js.js: an indicator that fails as told, for tests.
// raising_js(raise): update throws; raising_js(outputs): get_outputs
// returns the wrong type; raising_js(set): update writes a value that is
// no number; raising_js(configure): configure throws a TypeError (not a
// GLib.Error).
//
// SPDX-License-Identifier: LGPL-2.1-or-later

import GObject from 'gi://GObject';
import Tickhub from 'gi://Tickhub?version=1.0';

export const Raising = GObject.registerClass({
    GTypeName: 'ThRaisingJs',
    Implements: [Tickhub.Indicator],
    Properties: {
        'hub': GObject.ParamSpec.override('hub', Tickhub.Indicator),
    },
}, class Raising extends GObject.Object {
    get hub() {
        return this._hub ?? null;
    }

    set hub(hub) {
        this._hub = hub;
    }

    vfunc_configure(args) {
        this._mode = args?.[0] ?? 'raise';
        if (this._mode === 'configure')
            throw new TypeError('raising_js fails on purpose in configure');
        return true;
    }

    vfunc_get_outputs() {
        return this._mode === 'outputs' ? 42 : [''];
    }

    vfunc_update(candle, commit, values) {
        if (this._mode === 'set')
            values.set(0, Symbol('not a number'));
        else if (this._mode === 'raise')
            throw new RangeError(`raising_js fails on purpose at ${candle.close}`);
        else
            values.set(0, candle.close);
    }
});
