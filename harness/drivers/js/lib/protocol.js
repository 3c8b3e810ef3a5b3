'use strict';
// The driver's side of the JSON-lines protocol (../../PROTOCOL.md): stdout carries protocol lines
// only, events are timed on CLOCK_MONOTONIC.
//
// stdout belongs to the protocol, but SDKs write to it: @dapr/durabletask-js console.logs every
// unknown work item (each HealthPing) and its connection messages. guardStdout() must run BEFORE any
// SDK module is loaded: it keeps the real write function for the protocol and points every other
// writer of process.stdout (console.log/info/debug, direct writes) at stderr.

const util = require('util');

let protoWrite = null;

function guardStdout() {
  if (protoWrite !== null) return;
  protoWrite = process.stdout.write.bind(process.stdout);
  process.stdout.write = (chunk, encoding, cb) => process.stderr.write(chunk, encoding, cb);
  for (const level of ['log', 'info', 'debug']) {
    console[level] = (...args) => process.stderr.write(util.format(...args) + '\n');
  }
  // The harness is gone (EPIPE): nobody can stop us any more, so leave now.
  process.stdout.on('error', () => process.exit(0));
}

// process.hrtime reads uv_hrtime(), which is clock_gettime(CLOCK_MONOTONIC) on Linux: the clock of
// Python's time.monotonic() in the harness (tests/drivers/test_js_driver.py checks the agreement).
function now() {
  return Number(process.hrtime.bigint()) / 1e9;
}

// undefined would silently drop a key from the JSON; the protocol's "absent" is null.
function jsonable(value) {
  if (value === undefined) return null;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'function' || typeof value === 'symbol') return String(value);
  if (Array.isArray(value)) return value.map(jsonable);
  if (value !== null && typeof value === 'object') {
    if (value instanceof Error) return String(value);
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = jsonable(v);
    return out;
  }
  return value;
}

function send(obj, callback) {
  if (protoWrite === null) throw new Error('guardStdout() was not called before the first protocol line');
  protoWrite(JSON.stringify(obj) + '\n', callback);
}

function emitEvent(kind, data = {}, t = undefined) {
  send({ event: kind, t: t === undefined ? now() : t, data: jsonable(data) });
}

function log(message) {
  process.stderr.write(`[driver] ${message}\n`);
}

class CommandError extends Error {
  // type: the protocol's error type; unsupported: the build lacks the feature; capability: the
  // PROTOCOL.md capability the build lacks (with unsupported), so the harness can judge it.
  constructor(message, type = 'CommandError', { unsupported = false, capability = null } = {}) {
    super(message);
    this.type = type;
    this.unsupported = unsupported;
    this.capability = capability;
  }
}

module.exports = { guardStdout, now, jsonable, send, emitEvent, log, CommandError };
