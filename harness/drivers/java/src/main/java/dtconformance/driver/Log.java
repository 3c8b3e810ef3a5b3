package dtconformance.driver;

import java.time.LocalTime;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogManager;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * Logging: every java.util.logging record (the SDK's and gRPC's) goes to stderr; WARNING and above
 * also become {@code log} events. The Java SDKs log only through java.util.logging, on loggers named
 * after their package, so the root logger sees them all.
 */
final class Log extends Handler {
    private Log() {
        setLevel(Level.ALL);
    }

    static void install() {
        LogManager.getLogManager().reset(); // drop the default ConsoleHandler: ours writes the same to stderr
        Logger root = Logger.getLogger("");
        root.setLevel(Level.INFO);
        root.addHandler(new Log());
    }

    static void driver(String msg) {
        System.err.println("[driver] " + msg);
        System.err.flush();
    }

    @Override
    public void publish(LogRecord r) {
        try {
            String message = r.getMessage();
            if (r.getParameters() != null || r.getResourceBundle() != null) {
                message = new java.util.logging.SimpleFormatter().formatMessage(r);
            }
            String thrown = r.getThrown() != null ? " (" + r.getThrown() + ")" : "";
            System.err.println(LocalTime.now() + " " + r.getLoggerName() + " " + r.getLevel() + ": " + message + thrown);
            if (r.getLevel().intValue() >= Level.WARNING.intValue()) {
                Protocol.emit("log", "level", r.getLevel().getName(), "logger", r.getLoggerName(),
                        "message", message + thrown);
            }
        } catch (RuntimeException e) {
            reportError("log handler failed", e, 0);
        }
    }

    @Override
    public void flush() {
        System.err.flush();
    }

    @Override
    public void close() {
    }
}
