package dtconformance.driver;

import com.microsoft.durabletask.DurableTaskClient;
import com.microsoft.durabletask.DurableTaskGrpcClientBuilder;
import com.microsoft.durabletask.DurableTaskGrpcWorkerBuilder;

import io.grpc.Channel;
import io.grpc.ClientInterceptor;

import java.io.InputStream;
import java.net.InetAddress;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What the SDK build on the classpath is and can do ({@code hello}, {@code defaults_in_force}).
 *
 * <p>Capabilities are feature-detected on the loaded classes (reflection on the builders), never inferred
 * from the version. Neither SDK has resiliency option classes: its behaviour is fixed in code, so the
 * defaults below are the constants of the worker loop, read from the SDK's source
 * ({@code DurableTaskGrpcWorker.startAndBlock}: {@code Thread.sleep(5000)} after every failed stream,
 * in com.microsoft 1.5.0 and io.dapr 1.17.1 alike).
 */
final class SdkInfo {
    /** The fixed pause between a failed GetWorkItems stream and the next (DurableTaskGrpcWorker). */
    static final double RECONNECT_DELAY_S = 5.0;
    /** What waitForInstanceStart/Completion use for a null or zero timeout (DurableTaskGrpcClient). */
    static final double LONG_POLL_DEFAULT_S = 600.0;

    private static boolean rpcObserver;

    private SdkInfo() {
    }

    static void setRpcObserver(boolean installed) {
        rpcObserver = installed;
    }

    /** "java" for com.microsoft:durabletask-client, "dapr-java" for io.dapr:durabletask-client. */
    static String sdkName() {
        return DurableTaskClient.class.getPackage().getName().startsWith("io.dapr") ? "dapr-java" : "java";
    }

    static String artifact() {
        return (sdkName().equals("java") ? "com.microsoft" : "io.dapr") + ":durabletask-client";
    }

    static String label() {
        return artifact() + " " + version();
    }

    /** The version of the SDK jar actually loaded: its pom.properties, else its file name (Maven names it so). */
    static String version() {
        String group = sdkName().equals("java") ? "com.microsoft" : "io.dapr";
        try (InputStream in = DurableTaskClient.class.getResourceAsStream(
                "/META-INF/maven/" + group + "/durabletask-client/pom.properties")) {
            if (in != null) {
                Properties p = new Properties();
                p.load(in);
                if (p.getProperty("version") != null) {
                    return p.getProperty("version");
                }
            }
        } catch (Exception e) {
            // fall through to the file name
        }
        try {
            String file = Paths.get(DurableTaskClient.class.getProtectionDomain().getCodeSource().getLocation().toURI())
                    .getFileName().toString();
            Matcher m = Pattern.compile("durabletask-client-(.+)\\.jar").matcher(file);
            return m.matches() ? m.group(1) : "unknown (" + file + ")";
        } catch (Exception e) {
            return "unknown";
        }
    }

    static String sdkPath() {
        try {
            return DurableTaskClient.class.getProtectionDomain().getCodeSource().getLocation().getPath();
        } catch (RuntimeException e) {
            return null;
        }
    }

    static boolean has(Class<?> cls, String method, Class<?>... params) {
        try {
            cls.getMethod(method, params);
            return true;
        } catch (NoSuchMethodException e) {
            return false;
        }
    }

    static boolean workerTakesInterceptors() {
        return has(DurableTaskGrpcWorkerBuilder.class, "addInterceptor", ClientInterceptor.class);
    }

    static boolean clientTakesInterceptors() {
        return has(DurableTaskGrpcClientBuilder.class, "addInterceptor", ClientInterceptor.class);
    }

    static Map<String, Object> capabilities() {
        boolean callerChannel = has(DurableTaskGrpcWorkerBuilder.class, "grpcChannel", Channel.class)
                && has(DurableTaskGrpcClientBuilder.class, "grpcChannel", Channel.class);
        boolean ownChannel = has(DurableTaskGrpcWorkerBuilder.class, "port", int.class)
                && has(DurableTaskGrpcClientBuilder.class, "port", int.class);
        return Protocol.map(
                "resiliency_options", false, // no option class: the worker loop's timings are constants
                "client_resiliency_options", false,
                "channel", callerChannel,
                "sdk_channel", ownChannel,
                "channel_options", false, // the SDK builds its channel with usePlaintext() and nothing else
                "async_client", false,
                "interceptors", workerTakesInterceptors() && clientTakesInterceptors(),
                "metadata", false, // no builder takes fixed call metadata; headers only via interceptors
                "secure_channel", false, // the worker has no TLS option (dapr's client has one; the worker not)
                "concurrency_options", false,
                "history_stream", false, // DurableTaskClient has no StreamInstanceHistory call
                "rpc_observer", rpcObserver, // every channel in the process is observed where it is built
                "aio_rpc_observer", false,
                "logger", true); // java.util.logging, routed by Log
    }

    static Map<String, Object> hello() {
        Map<String, Object> defaults = Protocol.map(
                "worker", Protocol.map("reconnect_backoff_base_seconds", RECONNECT_DELAY_S,
                        "reconnect_backoff_cap_seconds", RECONNECT_DELAY_S),
                "client", Protocol.map());
        return Protocol.map("protocol", 1, "sdk", sdkName(), "sdk_version", version(), "language", "java",
                "runtime", System.getProperty("java.vm.name") + " " + System.getProperty("java.runtime.version"),
                "capabilities", capabilities(), "options", Protocol.map("worker", null, "client", null),
                "defaults", defaults, "pid", ProcessHandle.current().pid(), "sdk_path", sdkPath(),
                "artifact", artifact(), "localhost_resolves_to", localhost());
    }

    /** Where an SDK-built channel goes: both SDKs dial "localhost", and the harness listens on 127.0.0.1. */
    static List<String> localhost() {
        List<String> out = new ArrayList<>();
        try {
            for (InetAddress a : InetAddress.getAllByName("localhost")) {
                out.add(a.getHostAddress());
            }
        } catch (Exception e) {
            out.add("unresolvable: " + e.getMessage());
        }
        return out;
    }

    static Map<String, Object> defaultsInForce() {
        // The worker's only setting is the fixed pause, so that is all it "uses"; the client has none.
        return Protocol.map("worker", Protocol.map("reconnect_backoff_base_seconds", RECONNECT_DELAY_S,
                        "reconnect_backoff_cap_seconds", RECONNECT_DELAY_S), "client", null,
                "client_long_poll_timeout_seconds", LONG_POLL_DEFAULT_S,
                "client_retire_grace_seconds", null);
    }
}
