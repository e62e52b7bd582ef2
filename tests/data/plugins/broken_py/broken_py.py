# broken_py.py: a plugin that fails at import, for tests.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

raise RuntimeError("broken_py is broken on purpose")
