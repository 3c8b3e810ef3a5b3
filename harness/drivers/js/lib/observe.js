'use strict';
// Observation of the SDK's gRPC channels and calls, through grpc-js's own client options.
//
// Both SDKs pass the `options` object they are given (typed grpc.ChannelOptions) on to the grpc-js
// Client constructor of every stub they build, and the Client constructor reads, besides channel
// arguments, `interceptors` and `channelFactoryOverride` from it (@grpc/grpc-js src/client.ts). So:
// - `channelFactoryOverride` builds exactly the channel grpc-js would have built
//   (new grpc.Channel(target, credentials, options)) and reports it (`channel_created`), and wraps
//   that channel's close() to report `channel_closed`. Every stub the SDK builds, also on a
//   reconnect, goes through it: SDK channel creation is observed, not inferred.
// - an interceptor reports each call (`rpc_start` for streaming responses, `rpc_done` for all)
//   from the listener's onReceiveStatus, passing everything through untouched.
// The options object is per worker/client, so both know their role ("worker", "client:<id>").
//
// Which channel carries a call: grpc-js interceptors do not see the channel. The SDKs copy the
// options object into a fresh object for every stub ({...defaults, ...options}) immediately before
// constructing it, so `interceptors` is a getter: each copy gets observers bound to a fresh slot,
// and the channel factory, called next in the same synchronous constructor, fills that slot with
// its channel id.

const { emitEvent, now, log } = require('./protocol');

let nextChannelId = 1;

function statusNames(grpc) {
  const names = {};
  for (const [name, code] of Object.entries(grpc.status)) {
    if (typeof code === 'number') names[code] = name;
  }
  return names;
}

// [[key, value], ...] of the JSON-representable channel arguments the channel is built with.
function channelArgs(options) {
  return Object.entries(options || {})
    .filter(([, v]) => ['string', 'number', 'boolean'].includes(typeof v))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function isSecure(credentials) {
  try {
    return Boolean(credentials && credentials._isSecure && credentials._isSecure());
  } catch {
    return false;
  }
}

function rpcObserver(grpc, role, slot, names) {
  return (options, nextCall) => {
    const def = options.method_definition || {};
    const path = def.path || '';
    const method = path.split('/').pop();
    return new grpc.InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        const t0 = now();
        if (def.responseStream) {
          emitEvent('rpc_start', { method, path, role, channel_id: slot.channelId }, t0);
        }
        next(metadata, {
          onReceiveStatus(status, nextStatus) {
            try {
              emitEvent('rpc_done', { method, path, role, channel_id: slot.channelId,
                                      code: names[status.code] ?? String(status.code),
                                      details: status.details, elapsed: now() - t0 });
            } catch (err) { // never let observation break the SDK
              log(`rpc_done observation failed: ${err}`);
            }
            nextStatus(status);
          },
        });
      },
    });
  };
}

// A user interceptor (`interceptor_metadata`): adds fixed headers to every call, so the fake can tell
// whether the interceptors given at construction are in force on every channel the SDK builds.
function headerInterceptor(grpc, pairs) {
  return (options, nextCall) => new grpc.InterceptingCall(nextCall(options), {
    start(metadata, listener, next) {
      for (const [k, v] of pairs) metadata.add(String(k), String(v));
      next(metadata, listener);
    },
  });
}

// The `options` object for one worker or client: `channelArgs` (grpc channel arguments) plus the
// observation hooks. `observe` false leaves out the rpc observer (never the channel factory).
function observedOptions(grpc, role, channelArgsIn, { userInterceptors = [], observe = true } = {}) {
  const names = statusNames(grpc);
  let current = { channelId: null };
  const opts = { ...channelArgsIn };
  Object.defineProperty(opts, 'interceptors', {
    enumerable: true,
    get() {
      current = { channelId: null };
      return [...(observe ? [rpcObserver(grpc, role, current, names)] : []), ...userInterceptors];
    },
  });
  opts.channelFactoryOverride = (target, credentials, options) => {
    const channel = new grpc.Channel(target, credentials, options);
    const channelId = nextChannelId++;
    if (current.channelId === null) current.channelId = channelId;
    emitEvent('channel_created', { channel_id: channelId, target, channel_kind: 'sync', owner: 'sdk', role,
                                   options: channelArgs(options), secure: isSecure(credentials) });
    const close = channel.close.bind(channel);
    let closed = false;
    channel.close = () => {
      if (!closed) {
        closed = true;
        emitEvent('channel_closed', { channel_id: channelId, role });
      }
      close();
    };
    return channel;
  };
  return opts;
}

module.exports = { observedOptions, headerInterceptor, statusNames };
