package dtconformance.driver;

/**
 * Whose channel is being built on this thread. Both Java SDKs build their channel in the worker's or
 * client's constructor (never later: they do not recreate channels), so the role set while the driver
 * constructs a worker or client, or builds a caller-owned channel, names every channel there is.
 */
final class Roles {
    private static final ThreadLocal<String> ROLE = new ThreadLocal<>();
    private static final ThreadLocal<Boolean> CALLER = ThreadLocal.withInitial(() -> false);

    private Roles() {
    }

    static String current() {
        return ROLE.get();
    }

    static boolean callerOwned() {
        return CALLER.get();
    }

    /** Run {@code body} with channels built on this thread attributed to {@code role} (caller-owned if asked). */
    static <T> T buildingAs(String role, boolean caller, java.util.concurrent.Callable<T> body) throws Exception {
        String prevRole = ROLE.get();
        boolean prevCaller = CALLER.get();
        ROLE.set(role);
        CALLER.set(caller);
        try {
            return body.call();
        } finally {
            ROLE.set(prevRole);
            CALLER.set(prevCaller);
        }
    }
}
