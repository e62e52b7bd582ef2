// rest_poll_js.js: a feed that polls a REST endpoint for prices
//
// The JavaScript twin of rest_poll_py. Every `interval` seconds, GET `url`
// with libsoup 3's async API (one request in flight at most; nothing waits
// for it). The endpoint answers a JSON object mapping canonical symbols to
// prices:
//
//     {"BTC": 42000.5, "ETH": "2300.25"}
//
// Prices are numbers or numeric strings; symbols are matched upper-cased
// against [tickhub] symbols (others are skipped and counted). Each price
// becomes a quote from `source` (default "rest_poll_js"), timestamped when
// it was received, since the shape carries no time. The source is reported
// live after a good answer and down, with the reason, after a failure.
//
// What counts as JSON and as a numeric string is what Python's json.loads()
// and float() accept, so that both twins read an answer the same way.
//
// SPDX-License-Identifier: LGPL-2.1-or-later

import Gio from 'gi://Gio';
import GLib from 'gi://GLib';
import GObject from 'gi://GObject';
import Soup from 'gi://Soup?version=3.0';
import Tickhub from 'gi://Tickhub?version=1.0';

const NAME = 'rest_poll_js';
const DEFAULT_TTL = 10.0;  // the hub's default for sources it does not know
const COUNTERS = ['requests', 'errors', 'ticks', 'bad_values', 'unknown_symbols'];

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

// Python's float() of a string: surrounding (Unicode) whitespace, a sign,
// decimal digits of any script with single underscores between them, or
// inf, infinity, nan in any case. Anything else (hex, "", "1e") is no number.
const PY_SPACE = '[\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]';
const PY_STRIP = new RegExp(`^${PY_SPACE}+|${PY_SPACE}+$`, 'g');
const DIGITS = '\\p{Nd}(?:_?\\p{Nd})*';
const PY_FLOAT = new RegExp(`^[+-]?(?:(?:${DIGITS})?\\.${DIGITS}|${DIGITS}\\.?)(?:[eE][+-]?${DIGITS})?$`, 'u');
const PY_SPECIAL = /^[+-]?(?:inf|infinity|nan)$/i;

function pyFloat(text) {
    const s = text.replace(PY_STRIP, '');
    if (PY_SPECIAL.test(s))
        return NaN;  // not finite: never a price
    if (!PY_FLOAT.test(s))
        return null;
    return Number(s.replace(/_/g, '').replace(/\p{Nd}/gu, d => String(GLib.unichar_digit_value(d))));
}

// A positive finite price from a JSON number or numeric string, or null.
function price(value) {
    if (typeof value === 'string')
        value = pyFloat(value);
    if (typeof value !== 'number')
        return null;  // booleans, null, arrays, objects, bad strings
    return Number.isFinite(value) && value > 0 ? value : null;
}

// The text of a JSON body, read as json.loads() reads bytes: UTF-8 (a BOM
// skipped), UTF-16 or UTF-32 by its BOM or its zero bytes.
function decodeBody(b) {
    const starts = (...prefix) => prefix.every((x, i) => b[i] === x);
    let encoding = 'utf-8', skip = 0;
    if (starts(0, 0, 0xfe, 0xff) || starts(0xff, 0xfe, 0, 0))
        [encoding, skip] = [b[0] === 0 ? 'utf-32be' : 'utf-32le', 4];
    else if (starts(0xfe, 0xff) || starts(0xff, 0xfe))
        [encoding, skip] = [b[0] === 0xfe ? 'utf-16be' : 'utf-16le', 2];
    else if (starts(0xef, 0xbb, 0xbf))
        skip = 3;
    else if (b.length >= 4 && !b[0])
        encoding = b[1] ? 'utf-16be' : 'utf-32be';
    else if (b.length >= 4 && !b[1])
        encoding = b[2] || b[3] ? 'utf-16le' : 'utf-32le';
    else if (b.length === 2 && !b[0])
        encoding = 'utf-16be';
    else if (b.length === 2 && !b[1])
        encoding = 'utf-16le';
    b = b.subarray(skip);

    if (!encoding.startsWith('utf-32'))
        return new TextDecoder(encoding, {fatal: true, ignoreBOM: true}).decode(b);
    // TextDecoder of GJS 1.74 knows no UTF-32.
    if (b.length % 4 !== 0)
        throw new TypeError(`'${encoding}' codec can't decode: truncated data`);
    const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
    let text = '';
    for (let i = 0; i < b.length; i += 4) {
        const c = view.getUint32(i, encoding === 'utf-32le');
        if (c > 0x10ffff)
            throw new TypeError(`'${encoding}' codec can't decode bytes in position ${i}-${i + 3}: code point not in range(0x110000)`);
        text += String.fromCodePoint(c);
    }
    return text;
}

// json.loads() also takes NaN, Infinity and -Infinity as numbers (Python's
// json.dumps() writes them): outside strings, they become 1e999 and
// -1e999, numbers that JSON.parse() reads as infinite, hence no price.
const PY_JSON_CONSTANTS = /"(?:[^"\\]|\\[\s\S])*"|(?<![0-9A-Za-z_.+-])(?:-?Infinity|NaN)(?![0-9A-Za-z_.])/g;

function pyJsonText(text) {
    return text.replace(PY_JSON_CONSTANTS, m => {
        if (m.startsWith('"'))
            return m;
        return m.startsWith('-') ? '-1e999' : '1e999';
    });
}

// Python's name of the type json.loads() gives for a parsed JSON value.
function pyTypeName(value, text) {
    if (value === null)
        return 'NoneType';
    if (Array.isArray(value))
        return 'list';
    switch (typeof value) {
    case 'string':
        return 'str';
    case 'boolean':
        return 'bool';
    case 'number':
        return /[.eE]/.test(text) ? 'float' : 'int';
    default:
        return typeof value;
    }
}

export const RestPollFeed = GObject.registerClass({
    GTypeName: 'ThRestPollFeedJs',
    Implements: [Tickhub.FeedSource],
    Properties: {
        // Set by the hub at construction. The hub owns its plugins; the
        // cycle this makes is broken by the hub's dispose.
        'hub': GObject.ParamSpec.override('hub', Tickhub.FeedSource),
    },
}, class RestPollFeed extends GObject.Object {
    constructor(params = {}) {
        super(params);
        this._session = null;
        this._cancellable = null;
        this._timerId = 0;
        this._inFlight = false;
        this._lastPoll = 0;          // monotonic µs
        this._state = null;
        this._stats = Object.fromEntries(COUNTERS.map(k => [k, 0]));
    }

    get hub() {
        return this._hub ?? null;
    }

    set hub(hub) {
        this._hub = hub;
    }

    vfunc_configure() {
        const hub = this.hub;
        const config = hub.get_config();
        const problems = [];
        this._url = config.get_string(NAME, 'url', '');
        this._interval = config.get_double(NAME, 'interval', 5.0);
        this._source = config.get_string(NAME, 'source', NAME);
        this._timeout = config.get_double(NAME, 'timeout', 10.0);
        const ttl = config.get_double(NAME, 'ttl', DEFAULT_TTL);

        if (!this._url)
            problems.push(`[${NAME}] url: missing; give the endpoint's http:// or https:// URL`);
        if (!(this._interval >= 0.1 && this._interval <= 86400)) {
            problems.push(`[${NAME}] interval: ${formatG(this._interval)} is out of range; use 0.1 to 86400 seconds`);
        } else if (ttl > 0 && this._interval >= ttl) {
            problems.push(`[${NAME}] interval: ${formatG(this._interval)} s is not shorter than the ttl ` +
                          `(${formatG(ttl)} s): the source would go stale between polls; poll more often or raise ttl`);
        }
        if (!this._source)
            problems.push(`[${NAME}] source: must not be empty`);
        if (!(this._timeout >= 1 && this._timeout <= 300))
            problems.push(`[${NAME}] timeout: ${formatG(this._timeout)} is out of range; use 1 to 300 seconds`);
        if (problems.length > 0)
            throw new GLib.Error(Tickhub.error_quark(), Tickhub.Error.BAD_CONFIG, problems.join('\n'));

        // The hub sets the ttl of the source named after the module; give a
        // renamed source the same one.
        if (this._source !== NAME && ttl > 0)
            hub.get_price_book().set_ttl(this._source, Math.trunc(ttl * 1e6));
        return true;
    }

    vfunc_start() {
        this._cancellable = new Gio.Cancellable();
        this._session = new Soup.Session({timeout: Math.trunc(this._timeout)});
        this._report(Tickhub.SourceState.CONNECTING, `polling ${this._url}`);
        this._poll();
        this._timerId = GLib.timeout_add(GLib.PRIORITY_DEFAULT, Math.trunc(this._interval * 1000),
            () => this._onTimer());
    }

    vfunc_stop() {
        if (this._timerId) {
            GLib.source_remove(this._timerId);
            this._timerId = 0;
        }
        if (this._cancellable !== null)
            this._cancellable.cancel();
        if (this._session !== null) {
            this._session.abort();
            this._session = null;
        }
        this._report(Tickhub.SourceState.DISABLED, 'stopped');
    }

    vfunc_request_price(symbol) {
        // Called on every miss of every client: poll at most once a second.
        if (GLib.get_monotonic_time() - this._lastPoll >= 1000000)
            this._poll();
    }

    vfunc_get_source_name() {
        // The `source` key: D-Bus's ListSources finds the feed under it.
        // null before configure: the hub names the feed after the module.
        return this._source ?? null;
    }

    vfunc_get_stats() {
        const dict = {};
        for (const [k, v] of Object.entries(this._stats))
            dict[k] = new GLib.Variant('t', v);
        return new GLib.Variant('a{sv}', dict);
    }

    _onTimer() {
        this._poll();
        return GLib.SOURCE_CONTINUE;
    }

    _poll() {
        if (this._inFlight || this._session === null)
            return;
        const message = Soup.Message.new('GET', this._url);
        message.get_request_headers().append('Accept', 'application/json');
        this._inFlight = true;
        this._lastPoll = GLib.get_monotonic_time();
        this._stats.requests++;
        this._session.send_and_read_async(message, GLib.PRIORITY_DEFAULT, this._cancellable,
            (session, result) => this._onAnswer(session, result, message));
    }

    _onAnswer(session, result, message) {
        let body;
        try {
            body = session.send_and_read_finish(result);
        } catch (e) {
            if (!(e instanceof GLib.Error))
                throw e;
            if (e.matches(Gio.io_error_quark(), Gio.IOErrorEnum.CANCELLED))
                return;  // stopped
            this._inFlight = false;
            this._fail(e.message);
            return;
        }
        this._inFlight = false;
        const status = message.get_status();
        if (status !== 200) {
            this._fail(`HTTP ${status} ${message.get_reason_phrase() || ''}`);
            return;
        }
        let text, prices;
        try {
            text = pyJsonText(decodeBody(body.get_data() ?? new Uint8Array(0)));
            prices = JSON.parse(text);
        } catch (e) {
            if (!(e instanceof SyntaxError || e instanceof TypeError))
                throw e;
            this._fail(`invalid JSON: ${e.message}`);
            return;
        }
        if (prices === null || typeof prices !== 'object' || Array.isArray(prices)) {
            this._fail(`expected a JSON object like {"BTC": 42000.5}, got ${pyTypeName(prices, text)}`);
            return;
        }
        this._push(prices);
    }

    _push(prices) {
        const hub = this.hub;
        if (hub === null)
            return;
        const now = hub.get_clock().get_time();
        for (const [name, value] of Object.entries(prices)) {
            const symbol = name.toUpperCase();
            const p = price(value);
            if (p === null) {
                this._stats.bad_values++;
                continue;
            }
            if (!hub.has_symbol(symbol)) {
                this._stats.unknown_symbols++;
                continue;
            }
            hub.push_tick(Tickhub.Tick.new(symbol, this._source, Tickhub.TickKind.QUOTE, p, now));
            this._stats.ticks++;
        }
        this._report(Tickhub.SourceState.LIVE, null);
    }

    _fail(reason) {
        this._stats.errors++;
        this._report(Tickhub.SourceState.DOWN, `${this._url}: ${reason}`);
    }

    _report(state, reason) {
        // One report (and one log line) per change.
        if (this._state !== null && this._state[0] === state && this._state[1] === reason)
            return;
        this._state = [state, reason];
        const hub = this.hub;
        if (hub !== null)
            hub.report_source_status(this._source, state, reason);
    }
});
