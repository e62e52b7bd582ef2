// broken_js.js: throws while its module is evaluated, for tests.
//
// SPDX-License-Identifier: LGPL-2.1-or-later

import GObject from 'gi://GObject';

function breakOnPurpose() {
    throw new Error('broken_js is broken on purpose');
}

breakOnPurpose();

export const Never = GObject.Object;
