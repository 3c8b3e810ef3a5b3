package dtconformance.driver;

import io.grpc.ChannelCredentials;
import io.grpc.ForwardingChannelBuilder2;
import io.grpc.InternalManagedChannelProvider;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.ManagedChannelProvider;
import io.grpc.ManagedChannelRegistry;

import java.net.SocketAddress;
import java.util.Collection;

/**
 * Sees every gRPC channel built in this process, the SDK's included: registered in gRPC's channel registry
 * above the transport's own provider, it hands out the transport's builders unchanged except that
 * {@code build()} wraps the channel in an {@link ObservedChannel} (channel_created / channel_closed /
 * rpc_start / rpc_done). This is the Java counterpart of the Python driver wrapping
 * {@code grpc.insecure_channel}: the Microsoft SDK 1.5.0 takes no interceptors, so its own channel
 * ({@code ManagedChannelBuilder.forAddress("localhost", port)}) can only be observed where it is built.
 */
final class ObservingChannelProvider extends ManagedChannelProvider {
    private final ManagedChannelProvider transport;

    private ObservingChannelProvider(ManagedChannelProvider transport) {
        this.transport = transport;
    }

    /** Install once, before any channel exists; false (and nothing observed) if no transport is available. */
    static boolean install() {
        ManagedChannelProvider transport;
        try {
            transport = ManagedChannelProvider.provider();
        } catch (RuntimeException e) {
            Log.driver("no gRPC transport provider: " + e);
            return false;
        }
        ManagedChannelRegistry.getDefaultRegistry().register(new ObservingChannelProvider(transport));
        return ManagedChannelProvider.provider() instanceof ObservingChannelProvider;
    }

    @Override
    protected boolean isAvailable() {
        return true;
    }

    @Override
    protected int priority() {
        return 10; // above every transport (Netty: 5, OkHttp: 3), so ManagedChannelBuilder.forX lands here
    }

    @Override
    protected ManagedChannelBuilder<?> builderForAddress(String name, int port) {
        return new Builder(InternalManagedChannelProvider.builderForAddress(transport, name, port), name + ":" + port,
                false);
    }

    @Override
    protected ManagedChannelBuilder<?> builderForTarget(String target) {
        return new Builder(InternalManagedChannelProvider.builderForTarget(transport, target), target, false);
    }

    @Override
    protected NewChannelBuilderResult newChannelBuilder(String target, ChannelCredentials creds) {
        NewChannelBuilderResult r = InternalManagedChannelProvider.newChannelBuilder(transport, target, creds);
        if (r.getChannelBuilder() == null) {
            return r;
        }
        boolean secure = !(creds instanceof io.grpc.InsecureChannelCredentials);
        return NewChannelBuilderResult.channelBuilder(new Builder(r.getChannelBuilder(), target, secure));
    }

    @Override
    protected Collection<Class<? extends SocketAddress>> getSupportedSocketAddressTypes() {
        // The transport's own list is protected; DNS and IP targets (all the SDKs use) give InetSocketAddress.
        return java.util.Collections.singletonList(java.net.InetSocketAddress.class);
    }

    /** The transport's builder, unchanged but for build(). */
    private static final class Builder extends ForwardingChannelBuilder2<Builder> {
        private final ManagedChannelBuilder<?> delegate;
        private final String target;
        private boolean secure;

        Builder(ManagedChannelBuilder<?> delegate, String target, boolean secure) {
            this.delegate = delegate;
            this.target = target;
            this.secure = secure;
        }

        @Override
        protected ManagedChannelBuilder<?> delegate() {
            return delegate;
        }

        @Override
        public Builder useTransportSecurity() {
            secure = true;
            return super.useTransportSecurity();
        }

        @Override
        public Builder usePlaintext() {
            secure = false;
            return super.usePlaintext();
        }

        @Override
        public ManagedChannel build() {
            return ObservedChannel.wrap(delegate.build(), target, secure);
        }
    }
}
