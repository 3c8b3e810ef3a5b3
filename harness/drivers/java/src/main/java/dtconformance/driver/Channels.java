package dtconformance.driver;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;

import java.util.ArrayList;
import java.util.List;

/** The channels the driver builds or names: a caller-owned channel, the port of an SDK-owned one. */
final class Channels {
    private Channels() {
    }

    /** A plain insecure channel to {@code address}, owned by the driver (channel: "caller"). */
    static ManagedChannel callerChannel(String address, String role) throws Exception {
        String[] hp = Args.hostPort(address);
        return Roles.buildingAs(role, true,
                () -> ManagedChannelBuilder.forAddress(hp[0], Integer.parseInt(hp[1])).usePlaintext().build());
    }

    /**
     * The port for the SDK's {@code port(int)}: both SDKs always dial "localhost:PORT", so only a loopback
     * address can be given to them. Where localhost resolves is in hello's {@code localhost_resolves_to}.
     */
    static int sdkPort(String address) {
        String[] hp = Args.hostPort(address);
        String host = hp[0];
        if (!host.equals("127.0.0.1") && !host.equals("localhost") && !host.equals("::1")) {
            throw new CommandError("an SDK-built channel always goes to localhost:PORT (" + SdkInfo.label()
                    + "); it cannot reach " + address + ". Use a loopback address or channel='caller'.", "BadAddress");
        }
        return Integer.parseInt(hp[1]);
    }

    /** A user interceptor adding fixed headers to every call (``interceptor_metadata``). */
    static ClientInterceptor headers(List<com.fasterxml.jackson.databind.JsonNode> pairs) {
        List<String[]> kv = new ArrayList<>();
        for (com.fasterxml.jackson.databind.JsonNode p : pairs) {
            kv.add(new String[] {p.get(0).asText(), p.get(1).asText()});
        }
        return new ClientInterceptor() {
            @Override
            public <ReqT, RespT> ClientCall<ReqT, RespT> interceptCall(MethodDescriptor<ReqT, RespT> method,
                                                                       CallOptions options, Channel next) {
                return new ForwardingClientCall.SimpleForwardingClientCall<ReqT, RespT>(next.newCall(method, options)) {
                    @Override
                    public void start(Listener<RespT> listener, Metadata h) {
                        for (String[] p : kv) {
                            h.put(Metadata.Key.of(p[0], Metadata.ASCII_STRING_MARSHALLER), p[1]);
                        }
                        super.start(listener, h);
                    }
                };
            }
        };
    }

    /** Give the SDK builder a user interceptor through its addInterceptor (builds that have one). */
    static void addInterceptor(Object builder, ClientInterceptor interceptor) {
        try {
            builder.getClass().getMethod("addInterceptor", ClientInterceptor.class).invoke(builder, interceptor);
        } catch (ReflectiveOperationException e) {
            throw CommandError.unsupported("interceptors (addInterceptor)", "interceptors");
        }
    }
}
