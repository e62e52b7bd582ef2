/* fake-alpaca.h: a loopback server speaking Alpaca's market data
 * WebSocket v2 (fake-alpaca.c), and one speaking Finnhub's
 * (fake-finnhub.c), for the equity feeds' tests
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "fake-ws-server.h"

typedef struct _FakeAlpaca FakeAlpaca;

FakeAlpaca *fake_alpaca_new        (const char *key,
                                    const char *secret);
void        fake_alpaca_free       (FakeAlpaca *fa);
char       *fake_alpaca_url        (FakeAlpaca *fa);
FakeWs     *fake_alpaca_ws         (FakeAlpaca *fa);
guint       fake_alpaca_n_subscribed (FakeAlpaca *fa);
const char *fake_alpaca_last_path  (FakeAlpaca *fa);
void        fake_alpaca_set_welcome (FakeAlpaca *fa,
                                    const char *text);
void        fake_alpaca_set_subscribe_reply (FakeAlpaca *fa,
                                    const char *text);
void        fake_alpaca_send       (FakeAlpaca *fa,
                                    const char *text);

typedef struct _FakeFinnhub FakeFinnhub;

FakeFinnhub *fake_finnhub_new      (const char  *token);
void         fake_finnhub_free     (FakeFinnhub *ff);
char        *fake_finnhub_url      (FakeFinnhub *ff);
FakeWs      *fake_finnhub_ws       (FakeFinnhub *ff);
guint        fake_finnhub_n_subscribed (FakeFinnhub *ff);
gboolean     fake_finnhub_is_subscribed (FakeFinnhub *ff,
                                    const char  *symbol);
void         fake_finnhub_send     (FakeFinnhub *ff,
                                    const char  *text);
