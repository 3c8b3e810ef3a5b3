package dtconformance.driver;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ClientInterceptors;
import io.grpc.ConnectivityState;
import io.grpc.ForwardingClientCall;
import io.grpc.ForwardingClientCallListener;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;

import java.util.Collections;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A channel as built, forwarding everything, that reports what happens to it: {@code channel_created} when
 * built, {@code channel_closed} on the first shutdown()/shutdownNow(), and for every call {@code rpc_start}
 * (streaming responses) and {@code rpc_done} with the final status. Observation only: calls, listeners and
 * messages pass through unchanged, in order, on the threads gRPC chose.
 */
final class ObservedChannel extends ManagedChannel {
    private static final AtomicInteger IDS = new AtomicInteger();

    private final ManagedChannel delegate;
    private final Channel observed;
    final int channelId;
    final String role;
    private final AtomicBoolean closed = new AtomicBoolean();

    private ObservedChannel(ManagedChannel delegate, int channelId, String role) {
        this.delegate = delegate;
        this.channelId = channelId;
        this.role = role;
        this.observed = ClientInterceptors.intercept(delegate, new RpcObserver());
    }

    static ManagedChannel wrap(ManagedChannel raw, String target, boolean secure) {
        ObservedChannel ch = new ObservedChannel(raw, IDS.incrementAndGet(), Roles.current());
        Protocol.emit("channel_created", "channel_id", ch.channelId, "target", target, "channel_kind", "sync",
                "owner", Roles.callerOwned() ? "caller" : "sdk", "role", ch.role, "options", Collections.emptyList(),
                "secure", secure);
        return ch;
    }

    private void noteClosed() {
        if (closed.compareAndSet(false, true)) {
            Protocol.emit("channel_closed", "channel_id", channelId, "role", role);
        }
    }

    @Override
    public ManagedChannel shutdown() {
        noteClosed();
        delegate.shutdown();
        return this;
    }

    @Override
    public ManagedChannel shutdownNow() {
        noteClosed();
        delegate.shutdownNow();
        return this;
    }

    @Override
    public boolean isShutdown() {
        return delegate.isShutdown();
    }

    @Override
    public boolean isTerminated() {
        return delegate.isTerminated();
    }

    @Override
    public boolean awaitTermination(long timeout, TimeUnit unit) throws InterruptedException {
        return delegate.awaitTermination(timeout, unit);
    }

    @Override
    public ConnectivityState getState(boolean requestConnection) {
        return delegate.getState(requestConnection);
    }

    @Override
    public void notifyWhenStateChanged(ConnectivityState source, Runnable callback) {
        delegate.notifyWhenStateChanged(source, callback);
    }

    @Override
    public void resetConnectBackoff() {
        delegate.resetConnectBackoff();
    }

    @Override
    public void enterIdle() {
        delegate.enterIdle();
    }

    @Override
    public <ReqT, RespT> ClientCall<ReqT, RespT> newCall(MethodDescriptor<ReqT, RespT> method, CallOptions options) {
        return observed.newCall(method, options);
    }

    @Override
    public String authority() {
        return delegate.authority();
    }

    /**
     * A status's description and its cause: grpc-java puts what the transport saw (e.g. "Connection reset
     * by peer") in the cause and only "io exception" in the description, where grpc-core has both in one.
     */
    static String details(Status status) {
        String d = status.getDescription();
        Throwable cause = status.getCause();
        if (cause == null) {
            return d;
        }
        return (d == null ? "" : d + ": ") + cause;
    }

    /** rpc_start / rpc_done for each call; GetWorkItems messages also go to {@link WorkItems}. */
    private final class RpcObserver implements ClientInterceptor {
        @Override
        public <ReqT, RespT> ClientCall<ReqT, RespT> interceptCall(MethodDescriptor<ReqT, RespT> method,
                                                                   CallOptions options, Channel next) {
            String path = "/" + method.getFullMethodName();
            String name = path.substring(path.lastIndexOf('/') + 1);
            boolean streaming = !method.getType().serverSendsOneMessage();
            boolean workItems = name.equals("GetWorkItems");
            return new ForwardingClientCall.SimpleForwardingClientCall<ReqT, RespT>(next.newCall(method, options)) {
                @Override
                public void start(Listener<RespT> listener, Metadata headers) {
                    double t0 = Protocol.now();
                    if (streaming) {
                        Protocol.emitAt("rpc_start", t0, "method", name, "path", path, "role", role,
                                "channel_id", channelId);
                    }
                    super.start(new ForwardingClientCallListener.SimpleForwardingClientCallListener<RespT>(listener) {
                        @Override
                        public void onMessage(RespT message) {
                            if (workItems) {
                                WorkItems.delivered(message);
                            }
                            super.onMessage(message);
                        }

                        @Override
                        public void onClose(Status status, Metadata trailers) {
                            try {
                                Protocol.emit("rpc_done", "method", name, "path", path, "role", role,
                                        "channel_id", channelId, "code", status.getCode().name(),
                                        "details", details(status), "elapsed", Protocol.now() - t0);
                            } catch (RuntimeException e) { // never let observation break the SDK
                                Log.driver("rpc_done observation failed: " + e);
                            }
                            super.onClose(status, trailers);
                        }
                    }, headers);
                }
            };
        }
    }
}
