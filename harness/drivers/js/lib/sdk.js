'use strict';
// The SDK package under test: loaded by name, its API style and capabilities feature-detected on the
// loaded code (never from its version string), its defaults read from what it constructs.
//
// Two API styles are in the field: @microsoft/durabletask-js takes one options object
// ({hostAddress, options, useTLS, metadataGenerator, logger, ...}); @dapr/durabletask-js 1.0.0 takes
// positional (hostAddress, options, useTLS). Which one a build has is found by constructing with a
// Proxy that records the keys the constructor reads.

const fs = require('fs');
const path = require('path');
const { createRequire } = require('module');

const { log } = require('./protocol');

const PROBE_ADDRESS = '127.0.0.1:9'; // never dialled: probes build no channel, or throw before a call

// The protocol's worker resiliency fields and the option names a JS build would take them under.
// A build is configurable only when its constructor reads every one of them.
const WORKER_RESILIENCY_KEYS = {
  hello_timeout_seconds: 'helloTimeoutMs',
  silent_disconnect_timeout_seconds: 'silentDisconnectTimeoutMs',
  channel_recreate_failure_threshold: 'channelRecreateFailureThreshold',
  reconnect_backoff_base_seconds: 'reconnectBackoffBaseMs',
  reconnect_backoff_cap_seconds: 'reconnectBackoffCapMs',
};
const CLIENT_RESILIENCY_KEYS = {
  channel_recreate_failure_threshold: 'channelRecreateFailureThreshold',
  min_recreate_interval_seconds: 'minRecreateIntervalMs',
};

class ProbeStop extends Error {}

function packageJsonPath(name) {
  try {
    return require.resolve(`${name}/package.json`);
  } catch {
    // An "exports" map may hide package.json: walk up from the entry point.
    let dir = path.dirname(require.resolve(name));
    while (!fs.existsSync(path.join(dir, 'package.json'))) {
      const up = path.dirname(dir);
      if (up === dir) throw new Error(`cannot find package.json of ${name}`);
      dir = up;
    }
    return path.join(dir, 'package.json');
  }
}

function loadSdk(name) {
  let pkgJson;
  try {
    pkgJson = packageJsonPath(name);
  } catch (err) {
    throw new Error(`cannot load the SDK package ${name}: ${err.message}. `
                    + 'Fix: run the driver from a directory where it is installed (harness/sdk/js.py does this).');
  }
  const pkg = JSON.parse(fs.readFileSync(pkgJson, 'utf8'));
  const sdk = require(name);
  // The SDK's own @grpc/grpc-js (as its dependency ranges resolved it), not any other copy: the
  // channel factory must build the same Channel class the SDK's stubs use.
  const sdkRequire = createRequire(pkgJson);
  const grpc = sdkRequire('@grpc/grpc-js');
  const grpcPkg = JSON.parse(fs.readFileSync(
    packageJsonPathFrom(sdkRequire, '@grpc/grpc-js'), 'utf8'));
  return { name, version: pkg.version, dir: path.dirname(pkgJson), sdk, grpc, grpcVersion: grpcPkg.version,
           Worker: sdk.TaskHubGrpcWorker, Client: sdk.TaskHubGrpcClient,
           statusNames: orchestrationStatusNames(sdk, path.dirname(pkgJson)) };
}

function packageJsonPathFrom(req, name) {
  try {
    return req.resolve(`${name}/package.json`);
  } catch {
    let dir = path.dirname(req.resolve(name));
    while (!fs.existsSync(path.join(dir, 'package.json'))) dir = path.dirname(dir);
    return path.join(dir, 'package.json');
  }
}

// The runtime-status enum (a TypeScript numeric enum: value -> name). @dapr/durabletask-js does not
// export it from its index, so look in the package's files too.
function orchestrationStatusNames(sdk, dir) {
  let en = sdk.OrchestrationStatus;
  for (const rel of ['dist/orchestration/enum/orchestration-status.enum.js',
                     'orchestration/enum/orchestration-status.enum.js',
                     'build/orchestration/enum/orchestration-status.enum.js']) {
    if (en) break;
    const file = path.join(dir, rel);
    if (fs.existsSync(file)) en = require(file).OrchestrationStatus;
  }
  const names = {};
  for (const [k, v] of Object.entries(en || {})) {
    if (typeof v === 'number') names[v] = k;
  }
  return names;
}

// The option keys a constructor reads from an options object (empty: a positional constructor).
function keysRead(Cls) {
  const read = new Set();
  const proxy = new Proxy({ hostAddress: PROBE_ADDRESS, options: { channelFactoryOverride: () => { throw new ProbeStop(); } } }, {
    get(target, key, receiver) {
      if (typeof key === 'string') read.add(key);
      return Reflect.get(target, key, receiver);
    },
  });
  try {
    new Cls(proxy); // eslint-disable-line no-new
  } catch (err) {
    if (!(err instanceof ProbeStop)) {
      // A positional constructor treats the proxy as an address and may reject it: nothing read.
    }
  }
  return read;
}

// Construct a worker or client the way the driver does, in the build's API style.
function construct(Cls, objectStyle, { address, options, useTLS, metadataGenerator, logger }) {
  if (objectStyle) {
    const cfg = { hostAddress: address, options, useTLS: Boolean(useTLS) };
    if (metadataGenerator) cfg.metadataGenerator = metadataGenerator;
    if (logger) cfg.logger = logger;
    return new Cls(cfg);
  }
  return new Cls(address, options, Boolean(useTLS));
}

// Whether the options object reaches grpc-js's Client constructor (where `interceptors` and
// `channelFactoryOverride` are read): the probe factory throws before any channel exists.
async function optionsReachGrpc(loaded, objectStyle) {
  let called = 0;
  const options = { channelFactoryOverride: () => { called += 1; throw new ProbeStop(); } };
  const result = { client: false, worker: false };
  try {
    construct(loaded.Client, objectStyle, { address: PROBE_ADDRESS, options });
  } catch (err) {
    if (!(err instanceof ProbeStop)) log(`client probe failed: ${err}`);
  }
  result.client = called > 0;
  called = 0;
  // The worker builds its stub in start(); with the throwing factory start() rejects before any call.
  const worker = construct(loaded.Worker, objectStyle, { address: PROBE_ADDRESS, options });
  let timer;
  try {
    await Promise.race([worker.start(), new Promise((resolve) => { timer = setTimeout(resolve, 2000); })]);
  } catch (err) {
    if (!(err instanceof ProbeStop)) log(`worker probe failed: ${err}`);
  } finally {
    clearTimeout(timer);
  }
  result.worker = called > 0;
  if (!result.worker && worker._isRunning) { // it started for real: stop it, bounded
    await Promise.race([worker.stop().catch(() => {}), new Promise((r) => setTimeout(r, 3000))]);
  }
  return result;
}

function source(fn) {
  return typeof fn === 'function' ? Function.prototype.toString.call(fn) : '';
}

// The reconnect delays and recreation a worker built without options uses, read from a never-started
// worker (microsoft: its ExponentialBackoff object) or, where the delay is a literal in the worker's
// loop (dapr 1.0.0: `await sleep(5000)` before re-running on the same stub), from the loaded code.
function workerDefaults(loaded, objectStyle) {
  const worker = construct(loaded.Worker, objectStyle, { address: PROBE_ADDRESS, options: {} });
  const out = {};
  const info = {};
  const b = worker._backoff;
  if (b && typeof b._initialDelayMs === 'number') {
    out.reconnect_backoff_base_seconds = b._initialDelayMs / 1000;
    out.reconnect_backoff_cap_seconds = b._maxDelayMs / 1000;
    info.reconnect = { kind: 'exponential', base_seconds: b._initialDelayMs / 1000, cap_seconds: b._maxDelayMs / 1000,
                       multiplier: b._multiplier, jitter_fraction: b._jitterFactor,
                       max_attempts: b._maxAttempts };
  } else {
    const loop = source(loaded.Worker.prototype.internalRunWorker);
    const sleeps = [...loop.matchAll(/sleep\)?\s*\(\s*(\d+)\s*\)/g)].map((m) => Number(m[1]));
    if (sleeps.length && sleeps.every((ms) => ms === sleeps[0])) {
      out.reconnect_backoff_base_seconds = sleeps[0] / 1000;
      out.reconnect_backoff_cap_seconds = sleeps[0] / 1000;
      info.reconnect = { kind: 'fixed', delay_seconds: sleeps[0] / 1000 };
    }
  }
  // A build that builds a brand-new GrpcClient (a new channel) before every reconnect recreates its
  // channel after every failure: a threshold of 1, a constant of the build (as .NET's are).
  const retry = source(loaded.Worker.prototype._createNewClientAndRetry);
  if (/new\s+[\w$.]*GrpcClient\s*\(/.test(retry)) {
    out.channel_recreate_failure_threshold = 1;
    info.recreate = 'a new GrpcClient (new channel) before every reconnect';
  } else {
    info.recreate = 'none found: reconnects reuse the stub';
  }
  return { values: out, info };
}

// The long polls' default timeout (seconds): the default of waitForOrchestrationCompletion's
// `timeout` parameter in the loaded code.
function longPollDefault(loaded) {
  const m = source(loaded.Client.prototype.waitForOrchestrationCompletion).match(/timeout\s*=\s*(\d+(?:\.\d+)?)/);
  return m ? Number(m[1]) : null;
}

async function detect(loaded) {
  const workerKeys = keysRead(loaded.Worker);
  const clientKeys = keysRead(loaded.Client);
  const objectStyle = workerKeys.has('hostAddress') && clientKeys.has('hostAddress');
  const reach = await optionsReachGrpc(loaded, objectStyle);
  const reachesGrpc = reach.client && reach.worker;
  const positionalTls = !objectStyle && loaded.Worker.length >= 3 && loaded.Client.length >= 3;
  const capabilities = {
    resiliency_options: Object.values(WORKER_RESILIENCY_KEYS).every((k) => workerKeys.has(k)),
    client_resiliency_options: Object.values(CLIENT_RESILIENCY_KEYS).every((k) => clientKeys.has(k)),
    // No constructor takes a channel or stub; grpc-js's channelOverride would be reached through the
    // options, but the SDKs close and rebuild stubs on that channel as if they owned it.
    channel: false,
    sdk_channel: true,
    channel_options: reachesGrpc,
    async_client: false, // one promise-based client class; the driver runs it as the "sync" kind
    // grpc-js reads `interceptors` from the same options object the channel factory came from.
    interceptors: reachesGrpc,
    secure_channel: (workerKeys.has('useTLS') && clientKeys.has('useTLS')) || positionalTls,
    concurrency_options: false,
    history_stream: typeof loaded.Client.prototype.getOrchestrationHistory === 'function',
    rpc_observer: reachesGrpc,
    aio_rpc_observer: false,
    logger: workerKeys.has('logger') && clientKeys.has('logger'),
    // Fixed call metadata at construction: the object-style SDKs take a metadataGenerator.
    metadata: workerKeys.has('metadataGenerator') && clientKeys.has('metadataGenerator'),
  };
  const worker = workerDefaults(loaded, objectStyle);
  return {
    objectStyle,
    capabilities,
    metadata: capabilities.metadata,
    keys: { worker: [...workerKeys].sort(), client: [...clientKeys].sort() },
    optionsReachGrpc: reach,
    workerDefaults: worker.values,
    workerBehaviour: worker.info,
    longPollDefault: longPollDefault(loaded),
  };
}

module.exports = { loadSdk, detect, construct, WORKER_RESILIENCY_KEYS, CLIENT_RESILIENCY_KEYS, PROBE_ADDRESS };
