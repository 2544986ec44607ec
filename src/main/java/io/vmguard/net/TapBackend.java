package io.vmguard.net;

import io.vmguard.sys.Libc;
import io.vmguard.sys.NativeException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;

/**
 * The host's TAP interface: frames the guest sends arrive at the host as if received on that interface, and
 * what the host sends out of it reaches the guest. Opening creates the interface if it does not exist (which
 * needs CAP_NET_ADMIN) or attaches to one made beforehand with {@code ip tuntap add ... user USER}; a
 * created interface disappears again on close. Bringing it up and addressing or bridging it is the host's
 * business ({@code ip link set IFNAME up}); frames sent while it is down are dropped and counted.
 */
public final class TapBackend extends PortBackend {
    static final String DEVICE = "/dev/net/tun";
    /** _IOW('T', 202, int) in linux/if_tun.h. */
    static final long TUNSETIFF = 0x400454caL;
    static final short IFF_TAP = 0x0002;
    /** No struct tun_pi before each frame: reads and writes carry the bare Ethernet frame. */
    static final short IFF_NO_PI = 0x1000;

    private final String name;

    private TapBackend(String name, FramePort port) {
        super(port);
        this.name = name;
    }

    /** Opens (creating if need be) the TAP interface {@code name}. */
    public static TapBackend open(String name) throws NetException {
        Arena arena = Arena.ofShared();
        int fd = -1;
        try {
            MemorySegment request = IfreqLayout.allocate(arena, validName(name), (short) (IFF_TAP | IFF_NO_PI));
            fd = openDevice();
            attach(fd, request, name);
            String actual = IfreqLayout.name(request);
            FramePort port = FramePort.open("tap " + actual, fd, arena, new TapIo("tap " + actual, arena), new TrafficCounters());
            return new TapBackend(actual, port);
        } catch (IllegalArgumentException e) {
            release(arena, fd);
            throw new NetException(e.getMessage());
        } catch (NetException | RuntimeException e) {
            release(arena, fd);
            throw e;
        }
    }

    /** The interface's name as the kernel knows it. */
    public String interfaceName() {
        return name;
    }

    @Override
    public String description() {
        return "tap " + name;
    }

    /**
     * Returns {@code name} if the kernel would take it as an interface name (its dev_valid_name): 1 to
     * IFNAMSIZ-1 bytes, not "." or "..", no '/', ':' or white space.
     */
    static String validName(String name) {
        int length = name.getBytes(StandardCharsets.UTF_8).length;
        boolean valid = length >= 1 && length < IfreqLayout.IFNAMSIZ && !name.equals(".") && !name.equals("..")
                && name.chars().noneMatch(c -> c == '/' || c == ':' || Character.isWhitespace(c));
        if (!valid) {
            throw new IllegalArgumentException("bad interface name '" + name + "': 1 to " + (IfreqLayout.IFNAMSIZ - 1)
                    + " bytes, no '/', ':' or white space");
        }
        return name;
    }

    private static int openDevice() throws NetException {
        try {
            return Libc.open(DEVICE, Libc.O_RDWR | Libc.O_NONBLOCK | Libc.O_CLOEXEC);
        } catch (NativeException e) {
            throw new NetException(switch (e.errno()) {
                case Libc.ENOENT -> DEVICE + " not found: this host has no TUN/TAP support (modprobe tun)";
                case Libc.ENODEV, Libc.ENXIO -> DEVICE + ": no TUN/TAP driver behind it (modprobe tun)";
                case Libc.EACCES, Libc.EPERM -> DEVICE + ": permission denied (a tap backend needs root or CAP_NET_ADMIN)";
                default -> DEVICE + ": cannot open: " + Libc.strerror(e.errno());
            });
        }
    }

    private static void attach(int fd, MemorySegment request, String name) throws NetException {
        try {
            Libc.ioctl(fd, TUNSETIFF, request);
        } catch (NativeException e) {
            throw new NetException(switch (e.errno()) {
                case Libc.EPERM -> "tap " + name + ": permission denied: creating or attaching a tap needs CAP_NET_ADMIN"
                        + " (run as root, or create it first: ip tuntap add dev " + name + " mode tap user USER)";
                case Libc.EBUSY -> "tap " + name + " is in use by another program";
                case Libc.EINVAL -> name + " exists and is not a tap interface";
                default -> "tap " + name + ": TUNSETIFF: " + Libc.strerror(e.errno());
            });
        }
    }

    private static void release(Arena arena, int fd) {
        if (fd >= 0) {
            Libc.close(fd);
        }
        arena.close();
    }

    /**
     * A read gets one frame. A frame longer than the buffer is cut to the buffer's size (how the read reports
     * that has varied between kernel paths), so the read has a one-byte spill area after the caller's buffer:
     * anything landing there means the frame did not fit.
     */
    private static final class TapIo implements FramePort.FrameIo {
        private final String description;
        private final MemorySegment iovecs;

        TapIo(String description, Arena arena) {
            this.description = description;
            this.iovecs = arena.allocate(IovecLayout.LAYOUT, 2);
            IovecLayout.set(iovecs, 1, arena.allocate(1));
        }

        @Override
        public long read(int fd, MemorySegment buffer, Libc.CallState state) {
            IovecLayout.set(iovecs, 0, buffer);
            return Libc.readv(fd, iovecs, 2, state);
        }

        @Override
        public long write(int fd, MemorySegment frame, Libc.CallState state) {
            return Libc.write(fd, frame, state);
        }

        /**
         * Lost on the way: the interface is down (EIO), the host is short of memory or queue (EAGAIN, ENOBUFS,
         * ENOMEM), or the kernel would not take a frame of this size (EINVAL, EMSGSIZE; the guest chose it).
         */
        @Override
        public boolean isDrop(int errno) {
            return switch (errno) {
                case Libc.EIO, Libc.EAGAIN, Libc.ENOBUFS, Libc.ENOMEM, Libc.EINVAL, Libc.EMSGSIZE -> true;
                default -> false;
            };
        }

        @Override
        public String failure(String operation, int errno) {
            if (errno == Libc.EBADFD) {
                return description + " is gone (the interface was deleted)";
            }
            return description + ": " + operation + ": " + Libc.strerror(errno);
        }

        @Override
        public void release() {
            // The interface goes with its descriptor; nothing else to release.
        }
    }
}
