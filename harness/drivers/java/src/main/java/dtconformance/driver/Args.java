package dtconformance.driver;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.List;

/** Reading a command's args (a JSON object) and the options both worker and clients take. */
final class Args {
    final JsonNode node;

    Args(JsonNode node) {
        this.node = node == null || node.isNull() ? Protocol.JSON.createObjectNode() : node;
    }

    boolean present(String key) {
        JsonNode v = node.get(key);
        return v != null && !v.isNull() && !(v.isContainerNode() && v.size() == 0);
    }

    String str(String key, String dflt) {
        JsonNode v = node.get(key);
        return v == null || v.isNull() ? dflt : v.asText();
    }

    double num(String key, double dflt) {
        JsonNode v = node.get(key);
        return v == null || v.isNull() ? dflt : v.asDouble();
    }

    boolean bool(String key) {
        JsonNode v = node.get(key);
        return v != null && v.asBoolean(false);
    }

    /** A JSON value as the plain Java value the SDK serializes (Map, List, String, Number, Boolean, null). */
    Object value(String key) {
        JsonNode v = node.get(key);
        return v == null || v.isNull() ? null : Protocol.JSON.convertValue(v, Object.class);
    }

    List<JsonNode> list(String key) {
        List<JsonNode> out = new ArrayList<>();
        JsonNode v = node.get(key);
        if (v != null && v.isArray()) {
            v.forEach(out::add);
        }
        return out;
    }

    /** "127.0.0.1:PORT" -> host and port. */
    static String[] hostPort(String address) {
        int i = address.lastIndexOf(':');
        if (i < 0) {
            throw new CommandError("address must be HOST:PORT, not " + address, "BadAddress");
        }
        return new String[] {address.substring(0, i).replace("[", "").replace("]", ""), address.substring(i + 1)};
    }

    /**
     * Refuse what neither Java SDK can be given (PROTOCOL.md: a requested option the build lacks is
     * ok=false, unsupported, naming the capability). ``what`` is "worker" or "client".
     */
    void refuseMissingOptions(String what, boolean takesInterceptors) {
        if (present("resiliency")) {
            throw CommandError.unsupported(what + " resiliency options",
                    what.equals("worker") ? "resiliency_options" : "client_resiliency_options");
        }
        if (present("channel_options")) {
            throw CommandError.unsupported("channel_options", "channel_options");
        }
        if (bool("secure")) {
            throw CommandError.unsupported("a TLS channel (secure)", "secure_channel");
        }
        if (present("interceptor_metadata") && !takesInterceptors) {
            throw CommandError.unsupported("interceptors", "interceptors");
        }
        if (present("metadata")) {
            // Neither builder takes fixed call metadata: the optional `metadata` capability (PROTOCOL.md);
            // headers reach Java calls only through interceptors (CHAN-CONFIG-001).
            throw CommandError.unsupported("metadata (headers on every call)", "metadata");
        }
        String channel = str("channel", "sdk");
        if (!channel.equals("sdk") && !channel.equals("caller")) {
            throw new CommandError("channel must be 'sdk' or 'caller', not " + channel, "CommandError");
        }
    }
}
