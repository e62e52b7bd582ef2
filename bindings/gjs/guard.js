// guard.js: evaluated once in tickhub's JavaScript context, before any
// plugin (th-gjs-bridge.c).
//
// A JavaScript plugin registers its classes with GObject.registerClass, as
// any GJS code does. While a plugin's module is being evaluated, the bridge
// names it in globalThis.__tickhubPlugin; this wraps registerClass so that
// every vfunc_ method of a class implementing Tickhub.FeedSource,
// Tickhub.Sink or Tickhub.Indicator runs inside a guard. An exception there
// disables the plugin with the method, the exception and its stack
// (Tickhub.Hub.disable_plugin), and the call returns what the hub reads as
// "nothing": false from configure, null from get_outputs, get_stats and
// get_source_name, true from keeps_alive; a flush that throws completes its
// task with the error, so that the hub's stop does not wait for it.
// A GLib.Error thrown by configure or flush_finish is not a fault but the
// method's answer (a config problem, a failed flush): it goes through to C
// as the GError.
//
// SPDX-License-Identifier: LGPL-2.1-or-later

import GLib from 'gi://GLib';
import GObject from 'gi://GObject';
import Tickhub from 'gi://Tickhub?version=1.0';

const OURS = [Tickhub.FeedSource, Tickhub.Sink, Tickhub.Indicator];
const FALLBACK = {
    vfunc_configure: false,
    vfunc_get_outputs: null,
    vfunc_get_stats: null,
    vfunc_flush_finish: false,
    vfunc_get_source_name: null,
    vfunc_keeps_alive: true,
};
const ANSWERS_WITH_GERROR = ['vfunc_configure', 'vfunc_flush_finish'];

function interfacesOf(meta, klass) {
    if (meta && Array.isArray(meta.Implements))
        return meta.Implements;
    return klass[GObject.interfaces] ?? [];
}

function report(self, plugin, where, error) {
    const stack = error?.stack ? `\n${String(error.stack).trimEnd()}` : '';
    const reason = `${where} threw ${error}${stack}`;
    let hub = null;
    try {
        hub = self.hub;
    } catch {
        hub = null;
    }
    if (hub instanceof Tickhub.Hub)
        hub.disable_plugin(plugin, reason);
    else
        logError(error, `plugin “${plugin}”: ${where} (no hub to disable it)`);
}

function failTask(task, where, error) {
    try {
        task.return_error(error instanceof GLib.Error ? error
            : new GLib.Error(Tickhub.error_quark(), Tickhub.Error.PLUGIN, `${where} threw ${error}`));
    } catch {
        // already completed
    }
}

function checkOutputs(result) {
    if (Array.isArray(result) && result.every(s => typeof s === 'string'))
        return result;
    throw new TypeError(`get_outputs must return an array of strings, not ${String(result)}`);
}

function guard(klass, plugin) {
    const proto = klass.prototype;
    for (const name of Object.getOwnPropertyNames(proto)) {
        if (!name.startsWith('vfunc_'))
            continue;
        const desc = Object.getOwnPropertyDescriptor(proto, name);
        if (typeof desc.value !== 'function')
            continue;
        const method = desc.value;
        const where = `${klass.name}.${name}`;
        const fallback = FALLBACK[name];
        const checked = name === 'vfunc_get_outputs';
        const answers = ANSWERS_WITH_GERROR.includes(name);
        proto[name] = function (...args) {
            try {
                const result = method.apply(this, args);
                return checked ? checkOutputs(result) : result;
            } catch (e) {
                if (answers && e instanceof GLib.Error)
                    throw e;
                report(this, plugin, where, e);
                if (name === 'vfunc_flush')
                    failTask(args[0], where, e);
                return fallback;
            }
        };
    }
}

const registerClass = GObject.registerClass;
GObject.registerClass = function (...args) {
    const [meta, klass] = args.length >= 2 ? [args[0], args[1]] : [null, args[0]];
    const plugin = globalThis.__tickhubPlugin;
    if (plugin && typeof klass === 'function' && interfacesOf(meta, klass).some(i => OURS.includes(i)))
        guard(klass, plugin);
    return registerClass.apply(this, args);
};
