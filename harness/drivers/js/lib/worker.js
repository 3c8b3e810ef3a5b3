'use strict';
// start_worker / stop_worker: one SDK worker with the workload's activities and orchestrations.

const { CommandError, emitEvent, now } = require('./protocol');
const { commonArgs, unsupported } = require('./options');
const { construct } = require('./sdk');

const state = { worker: null, starting: false };

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// Sleeps `sleepSeconds` (a timer: the event loop, and so the stream, keeps running as in any JS
// app), then returns `result`, or echoes its input when `result` is null/absent.
function makeActivity(name, sleepSeconds, result, hasResult) {
  return async (ctx, input) => {
    const instanceId = ctx && ctx.orchestrationId !== undefined ? ctx.orchestrationId : null;
    emitEvent('activity_started', { name, input, instance_id: instanceId });
    if (sleepSeconds > 0) await sleep(sleepSeconds * 1000);
    emitEvent('activity_finished', { name, input, instance_id: instanceId });
    return hasResult ? result : input;
  };
}

// Calls `activity` once with the orchestration input and returns its result. An async generator:
// both SDKs run an orchestrator only when its result has Symbol.asyncIterator (a plain generator is
// taken as an orchestrator that schedules nothing).
function makeOrchestration(name, activity) {
  return async function* orchestration(ctx, input) {
    emitEvent('orchestration_run', { name, instance_id: ctx.instanceId, is_replaying: Boolean(ctx.isReplaying) });
    const out = yield ctx.callActivity(activity, input);
    return out;
  };
}

async function startWorker(ctx, args) {
  if (state.worker !== null || state.starting) {
    throw new CommandError('a worker is already running; stop_worker first', 'WorkerRunning');
  }
  if (args.concurrency && Object.keys(args.concurrency).length) {
    throw unsupported(ctx, 'concurrency options', 'concurrency_options');
  }
  state.starting = true;
  try {
    const built = commonArgs(ctx, args, 'worker', 'resiliency_options');
    const worker = construct(ctx.loaded.Worker, ctx.detected.objectStyle, built);
    for (const a of args.activities || []) {
      const hasResult = a.result !== null && a.result !== undefined;
      worker.addNamedActivity(a.name, makeActivity(a.name, Number(a.sleep_seconds || 0), a.result, hasResult));
    }
    for (const o of args.orchestrations || []) {
      worker.addNamedOrchestrator(o.name, makeOrchestration(o.name, o.activity));
    }
    await worker.start();
    state.worker = worker;
  } finally {
    state.starting = false;
  }
  emitEvent('worker_started', { address: args.address, channel: args.channel ?? 'sdk' });
  return { started: true };
}

// Stops the worker; ok=false StopTimeout when the SDK's stop() has not returned within `timeout` s.
async function stopWorker(timeoutSeconds) {
  const worker = state.worker;
  if (worker === null) throw new CommandError('no worker is running', 'NoWorker');
  const t0 = now();
  let timer;
  const stopped = worker.stop().then(() => true);
  const timedOut = new Promise((resolve) => { timer = setTimeout(() => resolve(false), timeoutSeconds * 1000); });
  let returned;
  try {
    returned = await Promise.race([stopped, timedOut]);
  } finally {
    clearTimeout(timer);
  }
  const elapsed = now() - t0;
  if (!returned) throw new CommandError(`worker.stop() did not return within ${timeoutSeconds}s`, 'StopTimeout');
  state.worker = null;
  emitEvent('worker_stopped', { elapsed });
  return elapsed;
}

function workerRunning() {
  return state.worker !== null;
}

module.exports = { startWorker, stopWorker, workerRunning };
