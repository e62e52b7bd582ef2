#!/usr/bin/python3
# test-abi.py: libtickhub exports its API and nothing else.
#
# The library is built with -fvisibility=hidden; core/th-export.h marks what
# is exported (TH_EXPORT for the API, TH_PRIVATE_API for the few _th_*
# helpers the plugins, tools and tests built here call). This compares the
# dynamic symbols of the built library with tests/data/libtickhub.symbols:
# a symbol that appears or disappears is an ABI change to make on purpose,
# by updating that file in the same commit.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import os
import subprocess
import sys


def main():
    library, expected_path = sys.argv[1], sys.argv[2]
    out = subprocess.run(["nm", "-D", "--defined-only", library], capture_output=True, text=True, check=True).stdout
    exported = sorted({line.split()[-1] for line in out.splitlines() if line.split()
                       and line.split()[-1].startswith(("th_", "_th_"))})
    # Anything else exported is a leak too (but the toolchain's own).
    others = sorted({line.split()[-1] for line in out.splitlines() if line.split()
                     and not line.split()[-1].startswith(("th_", "_th_", "_init", "_fini", "__"))
                     and not line.split()[-1].startswith("_edata") and not line.split()[-1].startswith("_end")
                     and not line.split()[-1].startswith("__bss_start")})
    with open(expected_path) as f:
        expected = sorted(line.strip() for line in f if line.strip() and not line.startswith("#"))
    print("1..3")
    added = sorted(set(exported) - set(expected))
    removed = sorted(set(expected) - set(exported))
    ok = True
    if added:
        ok = False
        print("not ok 1 exported but not in %s: %s" % (os.path.basename(expected_path), " ".join(added)))
        print("# a new API function is added to the list; a helper is static, or _th_* in th-private.h")
    else:
        print("ok 1 no symbol exported by accident")
    if removed:
        ok = False
        print("not ok 2 listed but no longer exported: %s" % " ".join(removed))
        print("# removing API breaks the ABI: mark it TH_EXPORT again, or update the list on purpose")
    else:
        print("ok 2 every listed symbol exported")
    private = [s for s in exported if s.startswith("_th_")]
    if others:
        ok = False
        print("not ok 3 symbols outside the th_ namespace: %s" % " ".join(others))
    else:
        print("ok 3 only th_ and _th_ symbols (%d API, %d private helpers)" % (len(exported) - len(private), len(private)))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
