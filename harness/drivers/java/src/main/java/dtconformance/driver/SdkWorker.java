package dtconformance.driver;

import com.fasterxml.jackson.databind.JsonNode;
import com.microsoft.durabletask.DurableTaskGrpcWorker;
import com.microsoft.durabletask.DurableTaskGrpcWorkerBuilder;
import com.microsoft.durabletask.TaskActivity;
import com.microsoft.durabletask.TaskActivityFactory;
import com.microsoft.durabletask.TaskOrchestration;
import com.microsoft.durabletask.TaskOrchestrationFactory;

import io.grpc.ManagedChannel;

import java.util.Map;

/** start_worker / stop_worker: one DurableTaskGrpcWorker at a time, with the harness's work items. */
final class SdkWorker {
    private static final Object LOCK = new Object();
    private static DurableTaskGrpcWorker worker;
    private static ManagedChannel callerChannel;

    private SdkWorker() {
    }

    static Map<String, Object> start(Args a) throws Exception {
        synchronized (LOCK) {
            if (worker != null) {
                throw new CommandError("a worker is already running; stop_worker first", "WorkerRunning");
            }
            a.refuseMissingOptions("worker", SdkInfo.workerTakesInterceptors());
            if (a.present("concurrency")) {
                throw CommandError.unsupported("concurrency options", "concurrency_options");
            }
            String address = a.str("address", null);
            boolean caller = a.str("channel", "sdk").equals("caller");
            DurableTaskGrpcWorkerBuilder builder = new DurableTaskGrpcWorkerBuilder();
            ManagedChannel raw = null;
            if (caller) {
                raw = Channels.callerChannel(address, "worker");
                builder.grpcChannel(raw);
            } else {
                builder.port(Channels.sdkPort(address));
            }
            if (a.present("interceptor_metadata") && !caller) {
                Channels.addInterceptor(builder, Channels.headers(a.list("interceptor_metadata")));
            }
            for (JsonNode act : a.list("activities")) {
                JsonNode result = act.get("result");
                builder.addActivity(activity(act.get("name").asText(), act.path("sleep_seconds").asDouble(0),
                        result == null || result.isNull() ? null : Protocol.JSON.convertValue(result, Object.class)));
            }
            for (JsonNode orch : a.list("orchestrations")) {
                builder.addOrchestration(orchestration(orch.get("name").asText(), orch.get("activity").asText()));
            }
            DurableTaskGrpcWorker built;
            try {
                built = Roles.buildingAs("worker", false, builder::build);
                built.start();
            } catch (Exception e) {
                if (raw != null) {
                    raw.shutdownNow();
                }
                throw e;
            }
            worker = built;
            callerChannel = raw;
        }
        Protocol.emit("worker_started", "address", a.str("address", null), "channel", a.str("channel", "sdk"));
        return Protocol.map("started", true);
    }

    /** Stop the worker, waiting at most {@code timeout} s for the SDK's stop(); returns its duration. */
    static double stop(double timeout) throws InterruptedException {
        DurableTaskGrpcWorker w;
        ManagedChannel raw;
        synchronized (LOCK) {
            w = worker;
            raw = callerChannel;
        }
        if (w == null) {
            throw new CommandError("no worker is running", "NoWorker");
        }
        double t0 = Protocol.now();
        Thread th = new Thread(w::stop, "worker-stop");
        th.setDaemon(true);
        th.start();
        th.join((long) (timeout * 1000));
        double elapsed = Protocol.now() - t0;
        if (th.isAlive()) {
            throw new CommandError("worker.stop() did not return within " + timeout + "s", "StopTimeout");
        }
        synchronized (LOCK) {
            worker = null;
            callerChannel = null;
        }
        if (raw != null) { // caller-owned: ours to close, but only once the worker has stopped
            raw.shutdownNow();
        }
        Protocol.emit("worker_stopped", "elapsed", elapsed);
        return elapsed;
    }

    static boolean running() {
        synchronized (LOCK) {
            return worker != null;
        }
    }

    private static TaskActivityFactory activity(String name, double sleepSeconds, Object result) {
        TaskActivity body = ctx -> {
            Object input = ctx.getInput(Object.class);
            String iid = WorkItems.claim(name, input);
            Protocol.emit("activity_started", "name", name, "input", input, "instance_id", iid);
            if (sleepSeconds > 0) {
                try {
                    Thread.sleep((long) (sleepSeconds * 1000));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            Protocol.emit("activity_finished", "name", name, "input", input, "instance_id", iid);
            return result != null ? result : input;
        };
        return new TaskActivityFactory() {
            @Override
            public String getName() {
                return name;
            }

            @Override
            public TaskActivity create() {
                return body;
            }
        };
    }

    /** Calls {@code activity} once with the orchestration's input and completes with its result. */
    private static TaskOrchestrationFactory orchestration(String name, String activity) {
        TaskOrchestration body = ctx -> {
            Protocol.emit("orchestration_run", "name", name, "instance_id", ctx.getInstanceId(),
                    "is_replaying", ctx.getIsReplaying());
            Object input = ctx.getInput(Object.class);
            Object out = ctx.callActivity(activity, input, Object.class).await();
            ctx.complete(out);
        };
        return new TaskOrchestrationFactory() {
            @Override
            public String getName() {
                return name;
            }

            @Override
            public TaskOrchestration create() {
                return body;
            }

            // The io.dapr fork's factory also names a version; none here means "unversioned". Unused by
            // com.microsoft builds, whose interface has no such methods (hence no @Override).
            public String getVersionName() {
                return null;
            }

            public Boolean isLatestVersion() {
                return false;
            }
        };
    }
}
