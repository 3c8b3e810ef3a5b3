'use strict';
// Protocol args -> the SDK's constructor arguments: channel arguments, metadata, TLS, interceptors,
// logger. A requested option this build lacks is an `unsupported` CommandError naming the capability.

const util = require('util');

const { CommandError, emitEvent } = require('./protocol');
const { observedOptions, headerInterceptor } = require('./observe');

// GrpcChannelOptions fields (protocol names) -> grpc-js channel arguments.
const CHANNEL_ARG_KEYS = {
  max_receive_message_length: 'grpc.max_receive_message_length',
  max_send_message_length: 'grpc.max_send_message_length',
  keepalive_time_ms: 'grpc.keepalive_time_ms',
  keepalive_timeout_ms: 'grpc.keepalive_timeout_ms',
  keepalive_permit_without_calls: 'grpc.keepalive_permit_without_calls',
};

function unsupported(ctx, what, capability = null) {
  return new CommandError(`${what} is not supported by ${ctx.loaded.name} ${ctx.loaded.version}`, 'Unsupported',
                          { unsupported: true, capability });
}

function channelArgs(ctx, raw) {
  if (raw === null || raw === undefined) return {};
  if (!ctx.detected.capabilities.channel_options) throw unsupported(ctx, 'channel_options', 'channel_options');
  const out = {};
  for (const [field, value] of Object.entries(raw)) {
    if (value === null || value === undefined) continue;
    if (field === 'raw_options') {
      for (const [k, v] of value) out[String(k)] = v;
    } else if (field === 'retry_policy') {
      // The SDK has no retry-policy option of its own (Python's GrpcRetryPolicyOptions); writing a
      // grpc service config here would be the driver's retry policy, not the SDK's.
      throw unsupported(ctx, 'channel_options.retry_policy', 'channel_options');
    } else if (field in CHANNEL_ARG_KEYS) {
      out[CHANNEL_ARG_KEYS[field]] = typeof value === 'boolean' ? Number(value) : value;
    } else {
      throw unsupported(ctx, `channel_options.${field}`, 'channel_options');
    }
  }
  return out;
}

// Routes the SDK's log records (microsoft: the `logger` option) to stderr; warnings and errors also
// become `log` events.
function sdkLogger(name) {
  const write = (level, args) => {
    const message = util.format(...args);
    process.stderr.write(`${new Date().toISOString()} ${name} ${level}: ${message}\n`);
    if (level === 'WARNING' || level === 'ERROR') emitEvent('log', { level, logger: name, message });
  };
  return {
    error: (...a) => write('ERROR', a),
    warn: (...a) => write('WARNING', a),
    info: (...a) => write('INFO', a),
    debug: (...a) => write('DEBUG', a),
  };
}

// The constructor arguments shared by worker and clients (see sdk.construct), for `role`.
function commonArgs(ctx, args, role, resiliencyCapability) {
  const caps = ctx.detected.capabilities;
  if (args.resiliency !== null && args.resiliency !== undefined) {
    throw unsupported(ctx, 'resiliency options', resiliencyCapability);
  }
  const channel = args.channel ?? 'sdk';
  if (channel !== 'sdk' && channel !== 'caller') {
    throw new CommandError(`channel must be 'sdk' or 'caller', not ${JSON.stringify(channel)}`);
  }
  if (channel === 'caller' && !caps.channel) throw unsupported(ctx, 'a caller-owned channel', 'channel');
  if (args.secure && !caps.secure_channel) throw unsupported(ctx, 'a TLS channel (useTLS)', 'secure_channel');
  const userInterceptors = [];
  if (args.interceptor_metadata && args.interceptor_metadata.length) {
    if (!caps.interceptors) throw unsupported(ctx, 'interceptors', 'interceptors');
    userInterceptors.push(headerInterceptor(ctx.loaded.grpc, args.interceptor_metadata));
  }
  let metadataGenerator = null;
  if (args.metadata && args.metadata.length) {
    // The optional `metadata` capability (PROTOCOL.md): its tests are NOT APPLICABLE on such a build.
    if (!ctx.detected.capabilities.metadata) throw unsupported(ctx, 'call metadata (metadataGenerator)', 'metadata');
    const pairs = args.metadata.map(([k, v]) => [String(k), String(v)]);
    metadataGenerator = async () => {
      const md = new ctx.loaded.grpc.Metadata();
      for (const [k, v] of pairs) md.add(k, v);
      return md;
    };
  }
  const options = observedOptions(ctx.loaded.grpc, role, channelArgs(ctx, args.channel_options),
                                  { userInterceptors, observe: caps.rpc_observer });
  return { address: args.address, options, useTLS: Boolean(args.secure), metadataGenerator,
           logger: caps.logger ? sdkLogger(`durabletask-js-${role}`) : null };
}

module.exports = { commonArgs, unsupported };
