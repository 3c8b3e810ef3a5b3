'use strict';
// create_client / client_call / close_client. The JS SDKs have one promise-based client class; the
// driver runs it as the protocol's "sync" kind (its calls are the worker-thread-free equivalent of
// Python's blocking client) and answers "async" as unsupported (capability async_client).

const { CommandError, emitEvent, now } = require('./protocol');
const { commonArgs, unsupported } = require('./options');
const { construct } = require('./sdk');
const { statusNames } = require('./observe');

const clients = new Map(); // id -> SDK client

function createClient(ctx, args) {
  const id = String(args.id);
  const kind = args.kind ?? 'sync';
  if (clients.has(id)) throw new CommandError(`client ${JSON.stringify(id)} exists`, 'ClientExists');
  if (kind === 'async') throw unsupported(ctx, 'an asyncio-style second client class', 'async_client');
  if (kind !== 'sync') throw new CommandError(`kind must be 'sync' or 'async', not ${JSON.stringify(kind)}`);
  const built = commonArgs(ctx, args, `client:${id}`, 'client_resiliency_options');
  clients.set(id, construct(ctx.loaded.Client, ctx.detected.objectStyle, built));
  return { created: true };
}

function stateDict(ctx, st) {
  if (st === null || st === undefined) return null;
  const status = st.runtimeStatus;
  return { instance_id: st.instanceId ?? null, name: st.name ?? null,
           runtime_status: ctx.loaded.statusNames[status] ?? String(status),
           serialized_output: st.serializedOutput ?? null };
}

// (promise of the SDK call, function turning its result into JSON).
function clientOp(ctx, client, op, a) {
  const iid = a.instance_id;
  const timeout = a.timeout ?? 60;
  switch (op) {
    case 'schedule':
      return [client.scheduleNewOrchestration(a.name, a.input ?? undefined, iid ?? undefined), (v) => v];
    case 'get_state':
      return [client.getOrchestrationState(iid), (v) => stateDict(ctx, v)];
    case 'wait_start':
      return [client.waitForOrchestrationStart(iid, false, timeout), (v) => stateDict(ctx, v)];
    case 'wait_completion':
      return [client.waitForOrchestrationCompletion(iid, true, timeout), (v) => stateDict(ctx, v)];
    case 'raise_event':
      return [client.raiseOrchestrationEvent(iid, a.name, a.data ?? null), () => null];
    case 'terminate':
      return [client.terminateOrchestration(iid, a.output ?? null), () => null];
    case 'purge':
      return [client.purgeOrchestration(iid), (v) => ({ deleted_instance_count: v ? v.deletedInstanceCount : null })];
    case 'get_history':
      if (typeof client.getOrchestrationHistory !== 'function') {
        throw unsupported(ctx, 'getOrchestrationHistory (StreamInstanceHistory)', 'history_stream');
      }
      return [client.getOrchestrationHistory(iid), (v) => ({ events: (v || []).length })];
    default:
      throw new CommandError(`unknown client op ${JSON.stringify(op)}`, 'UnknownOp');
  }
}

// An SDK exception is a result (ok=true), not a protocol error. grpc-js errors carry a numeric
// `code`; the SDK's own timeouts are a TimeoutError class.
function errorOutcome(ctx, err) {
  const names = statusNames(ctx.loaded.grpc);
  const isGrpc = err && typeof err.code === 'number' && 'details' in err;
  return { outcome: 'error',
           exc_type: (err && err.constructor && err.constructor.name) || typeof err,
           grpc_code: isGrpc ? (names[err.code] ?? String(err.code)) : null,
           message: isGrpc ? String(err.details) : String(err && err.message !== undefined ? err.message : err) };
}

async function clientCall(ctx, args) {
  const id = String(args.id);
  const op = args.op;
  const client = clients.get(id);
  if (client === undefined) throw new CommandError(`no client ${JSON.stringify(id)}`, 'NoClient');
  const t0 = now();
  let res;
  try {
    const [promise, convert] = clientOp(ctx, client, op, args);
    res = { outcome: 'ok', value: convert(await promise) };
  } catch (err) {
    if (err instanceof CommandError) throw err;
    res = errorOutcome(ctx, err);
  }
  res.elapsed = now() - t0;
  const { value, ...done } = res; // eslint-disable-line no-unused-vars
  emitEvent('client_call_done', { client_id: id, op, instance_id: args.instance_id ?? null, ...done });
  return res;
}

async function closeClient(id) {
  const client = clients.get(id);
  if (client === undefined) throw new CommandError(`no client ${JSON.stringify(id)}`, 'NoClient');
  clients.delete(id);
  const t0 = now();
  await client.stop();
  emitEvent('client_closed', { client_id: id, elapsed: now() - t0 });
}

function clientIds() {
  return [...clients.keys()];
}

module.exports = { createClient, clientCall, closeClient, clientIds };
