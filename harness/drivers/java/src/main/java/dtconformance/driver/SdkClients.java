package dtconformance.driver;

import com.microsoft.durabletask.DurableTaskClient;
import com.microsoft.durabletask.DurableTaskGrpcClientBuilder;
import com.microsoft.durabletask.OrchestrationMetadata;

import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeoutException;

/** create_client / client_call / close_client: DurableTaskClient objects by the harness's id. */
final class SdkClients {
    private static final class Entry {
        final DurableTaskClient client;
        final ManagedChannel callerChannel; // null: the SDK owns its channel

        Entry(DurableTaskClient client, ManagedChannel callerChannel) {
            this.client = client;
            this.callerChannel = callerChannel;
        }
    }

    private static final Map<String, Entry> CLIENTS = new ConcurrentHashMap<>();

    private SdkClients() {
    }

    static Map<String, Object> create(Args a) throws Exception {
        String id = a.str("id", null);
        String role = "client:" + id;
        if (CLIENTS.containsKey(id)) {
            throw new CommandError("client " + id + " exists", "ClientExists");
        }
        if (!a.str("kind", "sync").equals("sync")) {
            throw CommandError.unsupported("an async client", "async_client");
        }
        a.refuseMissingOptions("client", SdkInfo.clientTakesInterceptors());
        boolean caller = a.str("channel", "sdk").equals("caller");
        DurableTaskGrpcClientBuilder builder = new DurableTaskGrpcClientBuilder();
        ManagedChannel raw = null;
        if (caller) {
            raw = Channels.callerChannel(a.str("address", null), role);
            builder.grpcChannel(raw);
        } else {
            builder.port(Channels.sdkPort(a.str("address", null)));
        }
        if (a.present("interceptor_metadata") && !caller) {
            Channels.addInterceptor(builder, Channels.headers(a.list("interceptor_metadata")));
        }
        DurableTaskClient client = Roles.buildingAs(role, false, builder::build);
        CLIENTS.put(id, new Entry(client, raw));
        return Protocol.map("created", true);
    }

    static Map<String, Object> call(Args a) {
        String id = a.str("id", null);
        String op = a.str("op", null);
        Entry e = CLIENTS.get(id);
        if (e == null) {
            throw new CommandError("no client " + id, "NoClient");
        }
        double t0 = Protocol.now();
        Map<String, Object> res = new LinkedHashMap<>();
        try {
            Object value = run(e.client, op, a);
            res.put("outcome", "ok");
            res.put("value", value);
        } catch (CommandError err) {
            throw err;
        } catch (Exception ex) { // an SDK exception is a result, not a protocol error
            res.putAll(outcomeOf(ex));
        }
        res.put("elapsed", Protocol.now() - t0);
        Map<String, Object> ev = new LinkedHashMap<>();
        ev.put("client_id", id);
        ev.put("op", op);
        ev.put("instance_id", a.str("instance_id", null));
        res.forEach((k, v) -> {
            if (!k.equals("value")) {
                ev.put(k, v);
            }
        });
        Protocol.emitData("client_call_done", Protocol.now(), ev);
        return res;
    }

    /**
     * The outcome of an SDK exception. The SDK reports the caller's timeout on a long poll as
     * java.util.concurrent.TimeoutException; the protocol's checks name that outcome "TimeoutError" (the
     * Python name), so it is reported under that name with the Java class in {@code exc_class}.
     */
    static Map<String, Object> outcomeOf(Exception ex) {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("outcome", "error");
        r.put("exc_type", ex instanceof TimeoutException ? "TimeoutError" : ex.getClass().getSimpleName());
        r.put("exc_class", ex.getClass().getName());
        if (ex instanceof StatusRuntimeException) {
            StatusRuntimeException s = (StatusRuntimeException) ex;
            r.put("grpc_code", s.getStatus().getCode().name());
            r.put("message", ObservedChannel.details(s.getStatus()));
        } else {
            r.put("grpc_code", null);
            r.put("message", String.valueOf(ex.getMessage()));
        }
        return r;
    }

    private static Object run(DurableTaskClient c, String op, Args a) throws Exception {
        String iid = a.str("instance_id", null);
        Duration timeout = Duration.ofMillis((long) (a.num("timeout", 60) * 1000));
        switch (op) {
            case "schedule":
                return iid == null ? c.scheduleNewOrchestrationInstance(a.str("name", null), a.value("input"))
                        : c.scheduleNewOrchestrationInstance(a.str("name", null), a.value("input"), iid);
            case "get_state":
                return state(c.getInstanceMetadata(iid, true));
            case "wait_start":
                return state(c.waitForInstanceStart(iid, timeout, true));
            case "wait_completion":
                return state(c.waitForInstanceCompletion(iid, timeout, true));
            case "raise_event":
                c.raiseEvent(iid, a.str("name", null), a.value("data"));
                return null;
            case "terminate":
                c.terminate(iid, a.value("output"));
                return null;
            case "purge":
                return Protocol.map("deleted_instance_count", c.purgeInstance(iid).getDeletedInstanceCount());
            case "get_history":
                throw CommandError.unsupported("get_orchestration_history (StreamInstanceHistory)", "history_stream");
            default:
                throw new CommandError("unknown client op " + op, "UnknownOp");
        }
    }

    private static Object state(OrchestrationMetadata m) {
        if (m == null || !m.isInstanceFound()) {
            return null;
        }
        return Protocol.map("instance_id", m.getInstanceId(), "name", m.getName(),
                "runtime_status", m.getRuntimeStatus() == null ? null : m.getRuntimeStatus().name(),
                "serialized_output", m.getSerializedOutput());
    }

    static Map<String, Object> close(String id) {
        Entry e = CLIENTS.remove(id);
        if (e == null) {
            throw new CommandError("no client " + id, "NoClient");
        }
        double t0 = Protocol.now();
        e.client.close();
        // Before the driver closes a caller-owned channel itself: a channel_closed of that channel before
        // this event was the SDK's doing.
        Protocol.emit("client_closed", "client_id", id, "elapsed", Protocol.now() - t0);
        if (e.callerChannel != null) {
            e.callerChannel.shutdownNow();
        }
        return Protocol.map("closed", true);
    }

    static Iterable<String> ids() {
        return new java.util.ArrayList<>(CLIENTS.keySet());
    }
}
