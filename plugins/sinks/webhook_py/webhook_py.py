# webhook_py.py: posts selected events to a webhook URL, in batches
#
# Events named in `events=` are queued by consume() (which never blocks: it
# only appends a string) and posted every `interval` seconds as one JSON
# array of envelopes, [{"event":..,"data":..}, ...], with libsoup 3's async
# API. One request is in flight at a time; a failed batch is retried with a
# backoff (1 s doubling up to 60 s) and keeps its place at the head of the
# queue. The queue is bounded by `max-queue`: beyond it new events are
# dropped and counted. On shutdown flush_async posts what is queued, for at
# most `timeout` seconds.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import collections
import itertools

import gi

gi.require_version("Tickhub", "1.0")
gi.require_version("Soup", "3.0")
from gi.repository import Gio, GLib, GObject, Soup, Tickhub  # noqa: E402

NAME = "webhook_py"
LOG_DOMAIN = "Tickhub-Webhook"
DEFAULT_EVENTS = ["price_source_changed", "error"]
MAX_BACKOFF = 60.0


def _log(level, message):
    GLib.log_variant(LOG_DOMAIN, level,
                     GLib.Variant("a{sv}", {"MESSAGE": GLib.Variant("s", message)}))


def _error(code, message):
    return GLib.Error(message, GLib.quark_to_string(Tickhub.error_quark()), code)


class WebhookSink(GObject.Object, Tickhub.Sink):
    __gtype_name__ = "ThWebhookSinkPy"

    # Weak: the hub owns its plugins (a strong reference would be a cycle).
    def _get_hub(self):
        return self._hub() if self._hub is not None else None

    def _set_hub(self, hub):
        self._hub = hub.weak_ref() if hub is not None else None

    hub = GObject.Property(type=Tickhub.Hub, getter=_get_hub, setter=_set_hub,
                           flags=GObject.ParamFlags.READWRITE | GObject.ParamFlags.CONSTRUCT_ONLY)

    def __init__(self, **kwargs):
        self._hub = None
        self._queue = collections.deque()
        self._session = None
        self._cancellable = Gio.Cancellable()
        self._timer_id = 0
        self._deadline_id = 0
        self._in_flight = 0          # events in the request in flight
        self._backoff = 0.0
        self._next_attempt = 0       # monotonic µs
        self._flush_tasks = []
        self._failing = False
        self.sent = self.dropped = self.failures = 0
        super().__init__(**kwargs)

    # -- configuration -----------------------------------------------------

    def do_configure(self):
        config = self.hub.get_config()
        problems = []
        self._url = config.get_string(NAME, "url", "")
        events = config.get_string_list(NAME, "events") if config.has_key(NAME, "events") else None
        self._events = None if events and "*" in events else frozenset(events or DEFAULT_EVENTS)
        self._interval = config.get_double(NAME, "interval", 1.0)
        self._max_queue = config.get_int(NAME, "max-queue", 10000)
        self._max_batch = config.get_int(NAME, "max-batch", 500)
        self._timeout = config.get_double(NAME, "timeout", 10.0)

        # Malformed values were reported by the hub already; check the rest.
        if not self._url:
            problems.append("[%s] url: missing; give the webhook's http:// or https:// URL" % NAME)
        if not 0.01 <= self._interval <= 3600:
            problems.append("[%s] interval: %g is out of range; use 0.01 to 3600 seconds" % (NAME, self._interval))
        if self._max_queue < 1:
            problems.append("[%s] max-queue: must be at least 1" % NAME)
        if self._max_batch < 1:
            problems.append("[%s] max-batch: must be at least 1" % NAME)
        if not 1 <= self._timeout <= 300:
            problems.append("[%s] timeout: %g is out of range; use 1 to 300 seconds" % (NAME, self._timeout))
        if problems:
            raise _error(Tickhub.Error.BAD_CONFIG, "\n".join(problems))
        return True

    # -- running -----------------------------------------------------------

    def do_start(self):
        self._session = Soup.Session(timeout=int(self._timeout), idle_timeout=60)
        self._timer_id = GLib.timeout_add(max(10, int(self._interval * 1000)), self._on_timer)

    def do_consume(self, event):
        # The hot path: a set lookup and an append, nothing else.
        if self._events is not None and event.get_name() not in self._events:
            return
        if len(self._queue) >= self._max_queue:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                _log(GLib.LogLevelFlags.LEVEL_WARNING,
                     "%s: queue full (%d events); %d dropped so far" % (NAME, self._max_queue, self.dropped))
            return
        self._queue.append(event.get_json())

    def _on_timer(self):
        self._post()
        return GLib.SOURCE_CONTINUE

    def _post(self):
        if self._in_flight or not self._queue or self._session is None:
            return
        if GLib.get_monotonic_time() < self._next_attempt:
            return
        n = min(len(self._queue), self._max_batch)
        body = "[" + ",".join(itertools.islice(self._queue, n)) + "]"
        message = Soup.Message.new("POST", self._url)
        message.set_request_body_from_bytes("application/json", GLib.Bytes.new(body.encode()))
        self._in_flight = n
        self._session.send_and_read_async(message, GLib.PRIORITY_DEFAULT, self._cancellable,
                                          self._on_posted, message)

    def _on_posted(self, session, result, message):
        try:
            session.send_and_read_finish(result)
        except GLib.Error as e:
            if e.matches(Gio.io_error_quark(), Gio.IOErrorEnum.CANCELLED):
                return  # stopped: self may be half torn down
            self._failed(e.message)
            return
        status = message.get_status()
        if not 200 <= status < 300:
            self._failed("HTTP %d %s" % (status, message.get_reason_phrase() or ""))
            return

        for _ in range(self._in_flight):
            self._queue.popleft()
        self.sent += self._in_flight
        self._in_flight = 0
        self._backoff = 0.0
        self._next_attempt = 0
        if self._failing:
            self._failing = False
            _log(GLib.LogLevelFlags.LEVEL_MESSAGE, "%s: %s reachable again" % (NAME, self._url))
        # More than one batch waiting (or a flush): go on at once.
        if self._queue and (self._flush_tasks or len(self._queue) >= self._max_batch):
            self._post()
        self._check_flushed()

    def _failed(self, reason):
        self._in_flight = 0
        self.failures += 1
        self._backoff = min(MAX_BACKOFF, max(1.0, self._backoff * 2))
        self._next_attempt = GLib.get_monotonic_time() + int(self._backoff * 1e6)
        if not self._failing:
            self._failing = True
            _log(GLib.LogLevelFlags.LEVEL_WARNING,
                 "%s: posting to %s failed: %s; retrying with backoff (%d events queued)"
                 % (NAME, self._url, reason, len(self._queue)))
        if self._flush_tasks:
            # Retry within the flush's deadline, not at the next interval.
            GLib.timeout_add(int(self._backoff * 1000), self._retry_for_flush)

    def _retry_for_flush(self):
        if self._flush_tasks:
            self._post()
        return GLib.SOURCE_REMOVE

    # -- flushing and stopping ---------------------------------------------

    def do_flush_async(self, cancellable, callback, user_data):
        # PyGObject hands the C callback over with its user_data already bound.
        task = Gio.Task.new(self, cancellable, callback)
        self._flush_tasks.append(task)
        if self._deadline_id == 0:
            self._deadline_id = GLib.timeout_add(int(self._timeout * 1000), self._on_flush_deadline)
        self._next_attempt = 0  # shutdown: do not wait for the backoff
        self._post()
        self._check_flushed()

    def do_flush_finish(self, result):
        return result.propagate_boolean()

    def _check_flushed(self):
        if self._flush_tasks and not self._queue and not self._in_flight:
            self._finish_flush(None)

    def _on_flush_deadline(self):
        self._deadline_id = 0
        self._finish_flush("%s: %d events not delivered to %s within %g s"
                           % (NAME, len(self._queue), self._url, self._timeout))
        return GLib.SOURCE_REMOVE

    def _finish_flush(self, failure):
        if self._deadline_id:
            GLib.source_remove(self._deadline_id)
            self._deadline_id = 0
        tasks, self._flush_tasks = self._flush_tasks, []
        for task in tasks:
            if failure is None:
                task.return_boolean(True)
            else:
                task.return_error(_error(Tickhub.Error.FAILED, failure))

    def do_stop(self):
        if self._timer_id:
            GLib.source_remove(self._timer_id)
            self._timer_id = 0
        self._cancellable.cancel()
        if self._flush_tasks:
            self._finish_flush("%s: stopped with %d events queued" % (NAME, len(self._queue)))
        if self._session is not None:
            self._session.abort()
            self._session = None
        _log(GLib.LogLevelFlags.LEVEL_INFO, "%s: %d events sent, %d dropped, %d failed posts"
             % (NAME, self.sent, self.dropped, self.failures))
