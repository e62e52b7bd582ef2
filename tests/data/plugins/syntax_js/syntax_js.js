// syntax_js.js: a plugin that does not parse (the doubled comma below), for
// the test of how the bridge reports it.
//
// SPDX-License-Identifier: LGPL-2.1-or-later

import GObject from 'gi://GObject';

export const Broken = {
    a: 1,, b: 2,
};
