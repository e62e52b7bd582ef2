// webhook_js.js: posts selected events to a webhook URL, in batches
//
// The JavaScript twin of webhook_py. Events named in `events=` are queued
// by consume() (which never blocks: it only appends a string) and posted
// every `interval` seconds as one JSON array of envelopes,
// [{"event":..,"data":..}, ...], with libsoup 3's async API. One request is
// in flight at a time; a failed batch is retried with a backoff (1 s
// doubling up to 60 s) and keeps its place at the head of the queue. The
// queue is bounded by `max-queue`: beyond it new events are dropped and
// counted. On shutdown the hub's flush posts what is queued, for at most
// `timeout` seconds.
//
// SPDX-License-Identifier: LGPL-2.1-or-later

import Gio from 'gi://Gio';
import GLib from 'gi://GLib';
import GObject from 'gi://GObject';
import Soup from 'gi://Soup?version=3.0';
import Tickhub from 'gi://Tickhub?version=1.0';

const NAME = 'webhook_js';
const LOG_DOMAIN = 'Tickhub-Webhook';
const DEFAULT_EVENTS = ['price_source_changed', 'error'];
const MAX_BACKOFF = 60.0;

function log_(level, message) {
    GLib.log_variant(LOG_DOMAIN, level,
        new GLib.Variant('a{sv}', {MESSAGE: new GLib.Variant('s', message)}));
}

function error_(code, message) {
    return new GLib.Error(Tickhub.error_quark(), code, message);
}

// C's (and Python's) "%g": 6 significant digits, no trailing zeros, an
// exponent of at least two digits.
function formatG(x) {
    if (Number.isNaN(x))
        return 'nan';
    if (!Number.isFinite(x))
        return x > 0 ? 'inf' : '-inf';
    if (x === 0)
        return Object.is(x, -0) ? '-0' : '0';
    const [mantissa, exponent] = x.toExponential(5).split('e');
    const exp = Number(exponent);
    const strip = s => s.includes('.') ? s.replace(/\.?0+$/, '') : s;
    if (exp >= -4 && exp < 6)
        return strip(x.toFixed(5 - exp));
    return `${strip(mantissa)}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
}

export const WebhookSink = GObject.registerClass({
    GTypeName: 'ThWebhookSinkJs',
    Implements: [Tickhub.Sink],
    Properties: {
        // Set by the hub at construction. The hub owns its plugins; the
        // cycle this makes is broken by the hub's dispose.
        'hub': GObject.ParamSpec.override('hub', Tickhub.Sink),
    },
}, class WebhookSink extends GObject.Object {
    constructor(params = {}) {
        super(params);
        this._queue = [];
        this._session = null;
        this._cancellable = new Gio.Cancellable();
        this._timerId = 0;
        this._deadlineId = 0;
        this._retryIds = new Set();   // backoff retries during a flush
        this._inFlight = 0;           // events in the request in flight
        this._backoff = 0.0;
        this._nextAttempt = 0;        // monotonic µs
        this._flushTasks = [];
        this._failing = false;
        this.sent = this.dropped = this.failures = 0;
    }

    get hub() {
        return this._hub ?? null;
    }

    set hub(hub) {
        this._hub = hub;
    }

    // -- configuration -----------------------------------------------------

    vfunc_configure() {
        const config = this.hub.get_config();
        const problems = [];
        this._url = config.get_string(NAME, 'url', '');
        const events = config.has_key(NAME, 'events') ? config.get_string_list(NAME, 'events') : null;
        this._events = events?.length && events.includes('*')
            ? null : new Set(events?.length ? events : DEFAULT_EVENTS);
        this._interval = config.get_double(NAME, 'interval', 1.0);
        this._maxQueue = config.get_int(NAME, 'max-queue', 10000);
        this._maxBatch = config.get_int(NAME, 'max-batch', 500);
        this._timeout = config.get_double(NAME, 'timeout', 10.0);

        // Malformed values were reported by the hub already; check the rest.
        if (!this._url)
            problems.push(`[${NAME}] url: missing; give the webhook's http:// or https:// URL`);
        if (!(this._interval >= 0.01 && this._interval <= 3600))
            problems.push(`[${NAME}] interval: ${formatG(this._interval)} is out of range; use 0.01 to 3600 seconds`);
        if (this._maxQueue < 1)
            problems.push(`[${NAME}] max-queue: must be at least 1`);
        if (this._maxBatch < 1)
            problems.push(`[${NAME}] max-batch: must be at least 1`);
        if (!(this._timeout >= 1 && this._timeout <= 300))
            problems.push(`[${NAME}] timeout: ${formatG(this._timeout)} is out of range; use 1 to 300 seconds`);
        if (problems.length > 0)
            throw error_(Tickhub.Error.BAD_CONFIG, problems.join('\n'));
        return true;
    }

    // -- running -----------------------------------------------------------

    vfunc_start() {
        this._session = new Soup.Session({timeout: Math.trunc(this._timeout), idle_timeout: 60});
        this._timerId = GLib.timeout_add(GLib.PRIORITY_DEFAULT,
            Math.max(10, Math.trunc(this._interval * 1000)), () => this._onTimer());
    }

    vfunc_consume(event) {
        // The hot path: a set lookup and an append, nothing else.
        if (this._events !== null && !this._events.has(event.get_name()))
            return;
        if (this._queue.length >= this._maxQueue) {
            this.dropped++;
            if (this.dropped === 1 || this.dropped % 1000 === 0) {
                log_(GLib.LogLevelFlags.LEVEL_WARNING,
                    `${NAME}: queue full (${this._maxQueue} events); ${this.dropped} dropped so far`);
            }
            return;
        }
        this._queue.push(event.get_json());
    }

    _onTimer() {
        this._post();
        return GLib.SOURCE_CONTINUE;
    }

    _post() {
        if (this._inFlight || this._queue.length === 0 || this._session === null)
            return;
        if (GLib.get_monotonic_time() < this._nextAttempt)
            return;
        const n = Math.min(this._queue.length, this._maxBatch);
        const body = `[${this._queue.slice(0, n).join(',')}]`;
        const message = Soup.Message.new('POST', this._url);
        message.set_request_body_from_bytes('application/json',
            GLib.Bytes.new(new TextEncoder().encode(body)));
        this._inFlight = n;
        this._session.send_and_read_async(message, GLib.PRIORITY_DEFAULT, this._cancellable,
            (session, result) => this._onPosted(session, result, message));
    }

    _onPosted(session, result, message) {
        try {
            session.send_and_read_finish(result);
        } catch (e) {
            if (!(e instanceof GLib.Error))
                throw e;
            if (e.matches(Gio.io_error_quark(), Gio.IOErrorEnum.CANCELLED))
                return;  // stopped: this may be half torn down
            this._failed(e.message);
            return;
        }
        const status = message.get_status();
        if (!(status >= 200 && status < 300)) {
            this._failed(`HTTP ${status} ${message.get_reason_phrase() || ''}`);
            return;
        }

        this._queue.splice(0, this._inFlight);
        this.sent += this._inFlight;
        this._inFlight = 0;
        this._backoff = 0.0;
        this._nextAttempt = 0;
        if (this._failing) {
            this._failing = false;
            log_(GLib.LogLevelFlags.LEVEL_MESSAGE, `${NAME}: ${this._url} reachable again`);
        }
        // More than one batch waiting (or a flush): go on at once.
        if (this._queue.length > 0 && (this._flushTasks.length > 0 || this._queue.length >= this._maxBatch))
            this._post();
        this._checkFlushed();
    }

    _failed(reason) {
        this._inFlight = 0;
        this.failures++;
        this._backoff = Math.min(MAX_BACKOFF, Math.max(1.0, this._backoff * 2));
        this._nextAttempt = GLib.get_monotonic_time() + Math.trunc(this._backoff * 1e6);
        if (!this._failing) {
            this._failing = true;
            log_(GLib.LogLevelFlags.LEVEL_WARNING,
                `${NAME}: posting to ${this._url} failed: ${reason}; retrying with backoff ` +
                `(${this._queue.length} events queued)`);
        }
        if (this._flushTasks.length > 0) {
            // Retry within the flush's deadline, not at the next interval.
            const id = GLib.timeout_add(GLib.PRIORITY_DEFAULT, Math.trunc(this._backoff * 1000), () => {
                this._retryIds.delete(id);
                this._retryForFlush();
                return GLib.SOURCE_REMOVE;
            });
            this._retryIds.add(id);
        }
    }

    _retryForFlush() {
        if (this._flushTasks.length > 0)
            this._post();
    }

    // -- flushing and stopping ---------------------------------------------

    // The hub's flush: `task` is the GTask of th_sink_flush_async(), to
    // complete with return_boolean(true) or return_error(); the hub's
    // th_sink_flush_finish() propagates it. GJS cannot implement
    // flush_async itself (a vfunc that takes a callback), hence `flush`.
    vfunc_flush(task) {
        this._flushTasks.push(task);
        if (this._deadlineId === 0) {
            this._deadlineId = GLib.timeout_add(GLib.PRIORITY_DEFAULT, Math.trunc(this._timeout * 1000),
                () => this._onFlushDeadline());
        }
        this._nextAttempt = 0;  // shutdown: do not wait for the backoff
        this._post();
        this._checkFlushed();
    }

    _checkFlushed() {
        if (this._flushTasks.length > 0 && this._queue.length === 0 && !this._inFlight)
            this._finishFlush(null);
    }

    _onFlushDeadline() {
        this._deadlineId = 0;
        this._finishFlush(`${NAME}: ${this._queue.length} events not delivered to ${this._url} ` +
                          `within ${formatG(this._timeout)} s`);
        return GLib.SOURCE_REMOVE;
    }

    _finishFlush(failure) {
        if (this._deadlineId) {
            GLib.source_remove(this._deadlineId);
            this._deadlineId = 0;
        }
        const tasks = this._flushTasks;
        this._flushTasks = [];
        for (const task of tasks) {
            if (failure === null)
                task.return_boolean(true);
            else
                task.return_error(error_(Tickhub.Error.FAILED, failure));
        }
    }

    vfunc_stop() {
        if (this._timerId) {
            GLib.source_remove(this._timerId);
            this._timerId = 0;
        }
        // No JavaScript callback may outlive the plugin (the context goes
        // after it); a retry would find no flush to serve anyway.
        for (const id of this._retryIds)
            GLib.source_remove(id);
        this._retryIds.clear();
        this._cancellable.cancel();
        if (this._flushTasks.length > 0)
            this._finishFlush(`${NAME}: stopped with ${this._queue.length} events queued`);
        if (this._session !== null) {
            this._session.abort();
            this._session = null;
        }
        log_(GLib.LogLevelFlags.LEVEL_INFO,
            `${NAME}: ${this.sent} events sent, ${this.dropped} dropped, ${this.failures} failed posts`);
    }
});
