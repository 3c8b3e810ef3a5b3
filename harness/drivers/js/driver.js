#!/usr/bin/env node
'use strict';
// Conformance driver for the JavaScript Durable Task SDKs, @microsoft/durabletask-js and
// @dapr/durabletask-js (driver protocol 1, see ../PROTOCOL.md).
//
//   node driver.js --sdk-package @microsoft/durabletask-js --sdk-name js [--shutdown-bound 5]
//
// Runs the SDK in its own process and answers JSON-line commands on stdin. The SDK package is
// required by name from this file's directory: harness/sdk/js.py copies the driver next to an npm
// install of the requested version. stdout is guarded BEFORE the SDK is loaded (lib/protocol.js).

const protocol = require('./lib/protocol');

protocol.guardStdout();

const readline = require('readline');

const { CommandError, send, emitEvent, log } = protocol;

const PROTOCOL = 1;

function parseArgs(argv) {
  const opts = { sdkPackage: '@microsoft/durabletask-js', sdkName: 'js', shutdownBound: 5 };
  for (let i = 0; i < argv.length; i += 1) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (flag === '--sdk-package') opts.sdkPackage = value;
    else if (flag === '--sdk-name') opts.sdkName = value;
    else if (flag === '--shutdown-bound') opts.shutdownBound = Number(value);
    else throw new Error(`unknown argument ${flag}; usage: driver.js --sdk-package NAME --sdk-name NAME [--shutdown-bound S]`);
    i += 1;
  }
  return opts;
}

const OPTS = parseArgs(process.argv.slice(2));

// An SDK promise nobody handles must not kill the driver (Node's default for unhandled rejections):
// @dapr/durabletask-js 1.0.0's start() leaves the first Hello's rejection unhandled. Recorded as a
// `log` event, since in an application it would end the process.
process.on('unhandledRejection', (reason) => {
  const message = `unhandled promise rejection: ${reason && reason.stack ? reason.stack : reason}`;
  log(message);
  emitEvent('log', { level: 'ERROR', logger: 'unhandledRejection', message: String(reason) });
});

const { loadSdk, detect, construct, PROBE_ADDRESS } = require('./lib/sdk');

const LOADED = loadSdk(OPTS.sdkPackage);
const worker = require('./lib/worker');
const clients = require('./lib/clients');
const { ownTcpSockets } = require('./lib/connections');

let detected = null; // feature detection runs once, before the first command that needs it
async function context() {
  if (detected === null) detected = await detect(LOADED);
  return { loaded: LOADED, detected };
}

async function cmdHello() {
  const ctx = await context();
  const d = ctx.detected;
  return {
    protocol: PROTOCOL, sdk: OPTS.sdkName, sdk_version: LOADED.version, language: 'javascript',
    runtime: `Node.js ${process.version}`, capabilities: d.capabilities,
    // Neither package has a resiliency option class.
    options: { worker: null, client: null },
    defaults: { worker: d.workerDefaults, client: {} },
    pid: process.pid, sdk_package: LOADED.name, sdk_path: LOADED.dir, grpc_js_version: LOADED.grpcVersion,
    api_style: d.objectStyle ? 'options object' : 'positional', metadata: d.metadata,
    constructor_keys: d.keys, options_reach_grpc: d.optionsReachGrpc, worker_behaviour: d.workerBehaviour,
  };
}

// What a worker and a client constructed without options use (never started, never called).
async function cmdDefaultsInForce() {
  const ctx = await context();
  const probe = construct(LOADED.Client, ctx.detected.objectStyle, { address: PROBE_ADDRESS, options: {} });
  try {
    return { worker: Object.keys(ctx.detected.workerDefaults).length ? ctx.detected.workerDefaults : null,
             client: null, client_long_poll_timeout_seconds: ctx.detected.longPollDefault,
             client_retire_grace_seconds: null };
  } finally {
    probe._stub?.close?.(); // its channel never connected; close it without the SDK's 1 s sleep
  }
}

const HANDLERS = {
  hello: cmdHello,
  start_worker: async (args) => worker.startWorker(await context(), args),
  stop_worker: async (args) => ({ elapsed: await worker.stopWorker(Number(args.timeout ?? 30)) }),
  create_client: async (args) => clients.createClient(await context(), args),
  client_call: async (args) => clients.clientCall(await context(), args),
  close_client: async (args) => { await clients.closeClient(String(args.id)); return { closed: true }; },
  connections: async () => ({ connections: ownTcpSockets() }),
  defaults_in_force: cmdDefaultsInForce,
};

async function handle(id, cmd, args) {
  try {
    const handler = HANDLERS[cmd];
    if (handler === undefined) throw new CommandError(`unknown command ${JSON.stringify(cmd)}`, 'UnknownCommand');
    send({ id, ok: true, result: await handler(args) });
  } catch (err) {
    if (err instanceof CommandError) {
      const error = { type: err.type, message: err.message, unsupported: err.unsupported };
      if (err.capability) error.capability = err.capability;
      send({ id, ok: false, error });
    } else {
      log(`command ${cmd} failed:\n${err && err.stack ? err.stack : err}`);
      send({ id, ok: false, error: { type: (err && err.constructor && err.constructor.name) || 'Error',
                                     message: String(err && err.message !== undefined ? err.message : err),
                                     unsupported: false } });
    }
  }
}

// Stop the worker and close the clients, giving up after `boundSeconds` (a wedged SDK must not keep
// the process alive: the caller exits regardless).
async function cleanup(boundSeconds) {
  const work = (async () => {
    if (worker.workerRunning()) {
      try {
        await worker.stopWorker(boundSeconds);
      } catch (err) {
        log(`stop during shutdown failed: ${err}`);
      }
    }
    await Promise.all(clients.clientIds().map((id) => clients.closeClient(id).catch((err) => {
      log(`closing client ${id} failed: ${err}`);
    })));
  })();
  let timer;
  await Promise.race([work, new Promise((resolve) => { timer = setTimeout(resolve, boundSeconds * 1000); })]);
  clearTimeout(timer);
}

let exiting = false;

function exitAfter(boundSeconds, reply) {
  if (exiting) return;
  exiting = true;
  // The hard exit: whatever the SDK does, the process ends shortly after the bound.
  setTimeout(() => process.exit(0), (boundSeconds + 1) * 1000);
  cleanup(boundSeconds).finally(() => {
    if (reply) send(reply, () => process.exit(0));
    else process.exit(0);
  });
}

function main() {
  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  rl.on('line', (line) => {
    if (!line.trim()) return;
    let msg;
    try {
      msg = JSON.parse(line);
      if (typeof msg !== 'object' || msg === null || !('id' in msg) || typeof msg.cmd !== 'string') {
        throw new Error('not a request object');
      }
    } catch (err) {
      log(`bad request line ${JSON.stringify(line.slice(0, 200))}: ${err.message}`);
      return;
    }
    const args = msg.args || {};
    if (msg.cmd === 'shutdown') {
      exitAfter(Number(args.timeout ?? OPTS.shutdownBound), { id: msg.id, ok: true, result: { bye: true } });
      return;
    }
    handle(msg.id, msg.cmd, args);
  });
  // stdin closed: the harness is gone. Clean up briefly, then leave no matter what.
  rl.on('close', () => {
    log('stdin closed; exiting');
    exitAfter(Math.min(OPTS.shutdownBound, 2));
  });
}

main();
