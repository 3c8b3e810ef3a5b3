package dtconformance.driver;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The protocol's output side: one JSON object per line on the real stdout, and the event clock.
 *
 * <p>stdout belongs to the protocol, so {@link #install()} keeps the real fd 1 for itself and points
 * {@code System.out} at stderr: a stray print (ours, the SDK's, a library's) can never corrupt the stream.
 */
final class Protocol {
    static final ObjectMapper JSON = new ObjectMapper().disable(SerializationFeature.FAIL_ON_EMPTY_BEANS);
    private static final Object LOCK = new Object();
    private static OutputStream out;

    private Protocol() {
    }

    static void install() {
        out = new FileOutputStream(FileDescriptor.out);
        System.setOut(new PrintStream(new FileOutputStream(FileDescriptor.err), true, StandardCharsets.UTF_8));
    }

    /**
     * CLOCK_MONOTONIC seconds, the harness's clock. On Linux HotSpot's {@code System.nanoTime()} is
     * {@code clock_gettime(CLOCK_MONOTONIC)} with no offset added (os_linux.cpp javaTimeNanos), so it equals
     * Python's {@code time.monotonic()}; tests/drivers/test_java_driver.py checks the agreement.
     */
    static double now() {
        return System.nanoTime() / 1e9;
    }

    static void send(Map<String, Object> obj) {
        byte[] line;
        try {
            line = (JSON.writeValueAsString(obj) + "\n").getBytes(StandardCharsets.UTF_8);
        } catch (Exception e) {
            Log.driver("cannot encode " + obj.keySet() + ": " + e);
            return;
        }
        synchronized (LOCK) {
            try {
                out.write(line);
                out.flush();
            } catch (Exception e) {
                // The harness is gone: nobody can stop us any more, so leave now.
                Runtime.getRuntime().halt(0);
            }
        }
    }

    /** An unsolicited event timed now. */
    static void emit(String kind, Object... keyValues) {
        emitAt(kind, now(), keyValues);
    }

    /** An unsolicited event timed at {@code t} (CLOCK_MONOTONIC seconds, taken when the thing happened). */
    static void emitAt(String kind, double t, Object... keyValues) {
        Map<String, Object> data = new LinkedHashMap<>();
        for (int i = 0; i + 1 < keyValues.length; i += 2) {
            data.put((String) keyValues[i], keyValues[i + 1]);
        }
        emitData(kind, t, data);
    }

    static void emitData(String kind, double t, Map<String, Object> data) {
        Map<String, Object> ev = new LinkedHashMap<>();
        ev.put("event", kind);
        ev.put("t", t);
        ev.put("data", data);
        send(ev);
    }

    /** A map from alternating keys and values, in order (for results). */
    static Map<String, Object> map(Object... keyValues) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i + 1 < keyValues.length; i += 2) {
            m.put((String) keyValues[i], keyValues[i + 1]);
        }
        return m;
    }
}
