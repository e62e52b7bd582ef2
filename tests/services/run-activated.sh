#!/bin/sh
# Exec of the test activation file: runs the build-tree tickhubd as D-Bus
# activation asked, then appends its exit status to $TICKHUB_DBUS_EXIT_LOG
# when the test set it (the bus passes the test's environment on), so that
# a test can check that every instance it caused exited cleanly, sanitizer
# reports included.
"$@"
status=$?
# The folder is gone when the test is over and the bus took us down.
if [ -n "$TICKHUB_DBUS_EXIT_LOG" ] && [ -d "$(dirname "$TICKHUB_DBUS_EXIT_LOG")" ]; then
  echo "$status" >> "$TICKHUB_DBUS_EXIT_LOG"
fi
exit $status
