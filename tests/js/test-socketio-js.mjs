// test-socketio-js.mjs: the npm socket.io-client (tests/js/package-lock.json)
// against tickhubd's Socket.IO server, unchanged, as the original page used it
//
// Run by tests/socketio_daemon.py, which owns tickhubd: this script prints
// TAP, and "#restart" when it wants tickhubd restarted on the same port
// (answered with "#restarted" on stdin).
//
// For transports ['polling'], ['websocket'] and the default (polling, then
// the upgrade): connect; join rooms and subscribe in the connect handler;
// get symbol_data, then financial_data_update events; emitWithAck; the
// server restarts; the client reconnects by itself and gets events again.
//
// SPDX-License-Identifier: LGPL-2.1-or-later

import { createInterface } from 'node:readline';
import { io } from 'socket.io-client';

const url = process.argv[2];
const TIMEOUT = 20000;
const lines = createInterface({ input: process.stdin });
const waiting = [];
lines.on('line', (line) => { const w = waiting.shift(); if (w) w(line); });

function restart () {
  return new Promise((resolve) => {
    waiting.push((line) => {
      if (line.trim() !== '#restarted') throw new Error(`unexpected ${line}`);
      resolve();
    });
    console.log('#restart');
  });
}

function waitFor (cond, what) {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + TIMEOUT;
    const check = () => {
      if (cond()) return resolve();
      if (Date.now() > deadline) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(check, 20);
    };
    check();
  });
}

function assert (cond, what) {
  if (!cond) throw new Error(`assertion failed: ${what}`);
}

async function run (transports) {
  const seen = { connect: 0, connected: 0, symbolData: [], updates: [], status: 0, transports: [] };
  const socket = io(url, {
    ...(transports ? { transports } : {}),
    reconnectionDelay: 200,
    reconnectionDelayMax: 1000,
  });

  socket.io.on('open', () => {
    const engine = socket.io.engine;
    seen.transports.push(engine.transport.name);
    engine.on('upgrade', (t) => seen.transports.push(`upgrade:${t.name}`));
  });
  socket.on('connect', () => {
    seen.connect++;
    // Rooms are joined on each connect: a restarted server knows nothing
    // of the old session.
    socket.emit('join_room', { room: 'financial_data' });
    socket.emit('join_room', { room: 'system_status' });
    socket.emit('subscribe_symbol', { symbol: 'ETH' });
  });
  socket.on('connected', (data) => { assert(data.client_id, 'client_id'); seen.connected++; });
  socket.on('symbol_data', (data) => seen.symbolData.push(data));
  socket.on('financial_data_update', (data) => seen.updates.push(data));
  socket.on('system_status_update', () => seen.status++);

  try {
    await waitFor(() => seen.symbolData.length && seen.updates.length >= 5 && seen.status >= 1,
      'symbol_data, updates and a system_status_update');
    assert(seen.connected === 1, 'one connected event');
    assert(seen.symbolData[0].symbol === 'ETH', 'symbol_data of ETH');
    assert(seen.updates.every((u) => u.data.source === 'simulator'), 'simulator prices');

    // Acks carry the reply's data.
    const status = await socket.timeout(TIMEOUT).emitWithAck('get_status', {});
    assert(status.rooms.includes('symbol_ETH') && status.rooms.includes('financial_data'), JSON.stringify(status));
    const pong = await socket.timeout(TIMEOUT).emitWithAck('ping', { n: 1 });
    assert(pong.n === 1, JSON.stringify(pong));
    const error = await socket.timeout(TIMEOUT).emitWithAck('subscribe_symbol', { symbol: 'NOPE' });
    assert(error.code === 'unknown_symbol', JSON.stringify(error));

    if (!transports) {
      await waitFor(() => socket.io.engine.transport.name === 'websocket', 'the upgrade');
      assert(seen.transports[0] === 'polling' && seen.transports.includes('upgrade:websocket'),
        JSON.stringify(seen.transports));
    } else {
      assert(socket.io.engine.transport.name === transports[0], socket.io.engine.transport.name);
    }

    await restart();
    seen.updates.length = 0;
    seen.symbolData.length = 0;
    await waitFor(() => seen.connect >= 2, 'the reconnection');
    await waitFor(() => seen.symbolData.length && seen.updates.length >= 3, 'events after the reconnection');
    assert(seen.connected === 2, 'a second connected event');
    const pong2 = await socket.timeout(TIMEOUT).emitWithAck('ping', { n: 2 });
    assert(pong2.n === 2, JSON.stringify(pong2));
  } finally {
    socket.close();
  }
}

const modes = [['polling', ['polling']], ['websocket', ['websocket']], ['default', null]];
console.log(`1..${modes.length}`);
let failed = 0;
for (const [i, [name, transports]] of modes.entries()) {
  try {
    await run(transports);
    console.log(`ok ${i + 1} socket.io-client ${name}: connect, rooms, symbol_data, events, ack, reconnect`);
  } catch (e) {
    failed++;
    console.log(`not ok ${i + 1} socket.io-client ${name}: ${e.message}`);
  }
}
lines.close();
process.exit(failed ? 1 : 0);
