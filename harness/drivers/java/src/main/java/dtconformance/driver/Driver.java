package dtconformance.driver;

import com.fasterxml.jackson.databind.JsonNode;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * Conformance driver for the Java Durable Task SDKs (driver protocol 1, harness/drivers/PROTOCOL.md):
 * runs com.microsoft:durabletask-client or io.dapr:durabletask-client in this JVM and answers JSON-line
 * commands on stdin.
 *
 * <p>Exit: on {@code shutdown} and at stdin EOF the worker and clients get a bounded stop, then the JVM
 * halts no matter what. It has to: the SDK's worker loop runs on a non-daemon thread that never ends
 * (com.microsoft 1.5.0's stop() only shuts the channel, and the loop retries every 5 s forever).
 */
public final class Driver {
    private static final Set<String> INLINE = Set.of("hello", "connections"); // cheap: answered on the reader

    private Driver() {
    }

    public static void main(String[] argv) throws Exception {
        Protocol.install();
        Log.install();
        double shutdownBound = 5.0;
        for (int i = 0; i + 1 < argv.length; i++) {
            if (argv[i].equals("--shutdown-bound")) {
                shutdownBound = Double.parseDouble(argv[i + 1]);
            }
        }
        // Before any channel exists, so that every channel the SDK builds is seen.
        SdkInfo.setRpcObserver(ObservingChannelProvider.install());

        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            JsonNode msg;
            try {
                msg = Protocol.JSON.readTree(line);
                if (msg == null || !msg.has("id") || !msg.has("cmd")) {
                    throw new IllegalArgumentException("not a request");
                }
            } catch (Exception e) {
                Log.driver("bad request line " + line + ": " + e);
                continue;
            }
            Object id = Protocol.JSON.convertValue(msg.get("id"), Object.class);
            String cmd = msg.get("cmd").asText();
            Args args = new Args(msg.get("args"));
            if (cmd.equals("shutdown")) {
                cleanup(args.num("timeout", shutdownBound));
                Protocol.send(Protocol.map("id", id, "ok", true, "result", Protocol.map("bye", true)));
                Runtime.getRuntime().halt(0);
            }
            if (INLINE.contains(cmd)) {
                handle(id, cmd, args);
            } else {
                Thread t = new Thread(() -> handle(id, cmd, args), "cmd-" + cmd + "-" + id);
                t.setDaemon(true);
                t.start();
            }
        }
        // stdin closed: the harness is gone. Clean up briefly, then leave no matter what.
        Log.driver("stdin closed; exiting");
        cleanup(Math.min(shutdownBound, 2.0));
        Runtime.getRuntime().halt(0);
    }

    static void handle(Object id, String cmd, Args args) {
        try {
            Protocol.send(Protocol.map("id", id, "ok", true, "result", dispatch(cmd, args)));
        } catch (CommandError e) {
            Map<String, Object> err = new LinkedHashMap<>();
            err.put("type", e.type);
            err.put("message", e.getMessage());
            err.put("unsupported", e.unsupported);
            if (e.capability != null) {
                err.put("capability", e.capability);
            }
            Protocol.send(Protocol.map("id", id, "ok", false, "error", err));
        } catch (Throwable e) {
            Log.driver("command " + cmd + " failed: " + e);
            e.printStackTrace(System.err);
            Protocol.send(Protocol.map("id", id, "ok", false, "error", Protocol.map(
                    "type", e.getClass().getSimpleName(), "message", String.valueOf(e.getMessage()),
                    "unsupported", false)));
        }
    }

    private static Map<String, Object> dispatch(String cmd, Args a) throws Exception {
        switch (cmd) {
            case "hello":
                return SdkInfo.hello();
            case "start_worker":
                return SdkWorker.start(a);
            case "stop_worker":
                return Protocol.map("elapsed", SdkWorker.stop(a.num("timeout", 30.0)));
            case "create_client":
                return SdkClients.create(a);
            case "client_call":
                return SdkClients.call(a);
            case "close_client":
                return SdkClients.close(a.str("id", null));
            case "connections":
                return Protocol.map("connections", Connections.own());
            case "defaults_in_force":
                return SdkInfo.defaultsInForce();
            default:
                throw new CommandError("unknown command '" + cmd + "'", "UnknownCommand");
        }
    }

    /** Stop the worker and close clients, giving up after {@code bound} s (the caller halts regardless). */
    private static void cleanup(double bound) {
        Thread t = new Thread(() -> {
            try {
                if (SdkWorker.running()) {
                    SdkWorker.stop(bound);
                }
            } catch (Exception e) {
                Log.driver("stop during shutdown failed: " + e);
            }
            for (String id : SdkClients.ids()) {
                try {
                    SdkClients.close(id);
                } catch (RuntimeException e) {
                    Log.driver("closing client " + id + " failed: " + e);
                }
            }
        }, "shutdown");
        t.setDaemon(true);
        t.start();
        try {
            t.join((long) (bound * 1000));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
