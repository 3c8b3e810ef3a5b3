package dtconformance.driver;

import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Message;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashMap;
import java.util.Map;

/**
 * Which orchestration instance an activity run belongs to. The Microsoft SDK's activity context has
 * only the activity's name and input, so the driver remembers each activity work item as it arrives
 * on a GetWorkItems stream (read through protobuf reflection: the SDKs' generated classes live in
 * different packages) and an activity run takes the oldest unclaimed delivery with its name and input.
 * Exact for the suite's workloads, whose concurrent activities differ in name or input.
 */
final class WorkItems {
    private static final Map<String, Deque<String>> PENDING = new HashMap<>();

    private WorkItems() {
    }

    static void delivered(Object message) {
        try {
            if (!(message instanceof Message)) {
                return;
            }
            Message item = (Message) message;
            Message req = field(item, "activityRequest");
            if (req == null) {
                return;
            }
            Message instance = field(req, "orchestrationInstance");
            Message input = field(req, "input");
            String iid = instance == null ? null : (String) value(instance, "instanceId");
            String raw = input == null ? null : (String) value(input, "value");
            synchronized (PENDING) {
                PENDING.computeIfAbsent(key((String) value(req, "name"), canonical(raw)), k -> new ArrayDeque<>())
                        .add(iid == null ? "" : iid);
            }
        } catch (RuntimeException e) {
            Log.driver("cannot read a work item: " + e);
        }
    }

    /** The instance of the oldest unclaimed delivery of activity {@code name} with {@code input}; null if none. */
    static String claim(String name, Object input) {
        String key = key(name, canonicalValue(input));
        synchronized (PENDING) {
            Deque<String> q = PENDING.get(key);
            String iid = q == null ? null : q.poll();
            return iid == null || iid.isEmpty() ? null : iid;
        }
    }

    private static String key(String name, String canonicalInput) {
        return name + "\u0000" + canonicalInput;
    }

    private static String canonical(String json) {
        if (json == null || json.isEmpty()) {
            return "null";
        }
        try {
            return Protocol.JSON.writeValueAsString(Protocol.JSON.readTree(json));
        } catch (Exception e) {
            return json;
        }
    }

    private static String canonicalValue(Object value) {
        try {
            return Protocol.JSON.writeValueAsString(Protocol.JSON.valueToTree(value));
        } catch (Exception e) {
            return String.valueOf(value);
        }
    }

    private static Message field(Message m, String name) {
        FieldDescriptor f = m.getDescriptorForType().findFieldByName(name);
        return f != null && m.hasField(f) ? (Message) m.getField(f) : null;
    }

    private static Object value(Message m, String name) {
        FieldDescriptor f = m.getDescriptorForType().findFieldByName(name);
        return f == null ? null : m.getField(f);
    }
}
