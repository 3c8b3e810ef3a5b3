package dtconformance.driver;

/** A command the driver answers with ok=false (PROTOCOL.md): ``type``, and for a missing feature the capability. */
final class CommandError extends RuntimeException {
    final String type;
    final boolean unsupported;
    final String capability; // with unsupported: the capability (PROTOCOL.md) the build lacks; may be null

    CommandError(String message, String type) {
        this(message, type, false, null);
    }

    CommandError(String message, String type, boolean unsupported, String capability) {
        super(message);
        this.type = type;
        this.unsupported = unsupported;
        this.capability = capability;
    }

    /** The build has no such feature or option: the message names it and the SDK build. */
    static CommandError unsupported(String what, String capability) {
        return new CommandError(what + " is not supported by " + SdkInfo.label(), "Unsupported", true, capability);
    }
}
