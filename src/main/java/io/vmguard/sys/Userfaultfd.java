package io.vmguard.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A userfaultfd(2): missing-page faults on registered ranges of this process are reported to whoever reads
 * the descriptor (which may be another process it was handed to), and the faulting thread, or the kernel on
 * KVM's behalf, waits until that reader fills the pages (UFFDIO_COPY, UFFDIO_ZEROPAGE) or wakes it.
 */
public final class Userfaultfd implements AutoCloseable {
    private static final long UFFD_API = 0xAA;
    private static final long UFFDIO_API = 0xC018AA3FL;
    private static final long UFFDIO_REGISTER = 0xC020AA00L;
    private static final long UFFDIO_UNREGISTER = 0x8010AA01L;
    private static final long UFFDIO_WAKE = 0x8010AA02L;
    private static final long UFFDIO_COPY = 0xC028AA03L;
    private static final long UFFDIO_ZEROPAGE = 0xC020AA04L;
    /** /dev/userfaultfd's ioctl: a new userfaultfd, for whoever may open the device (vm.unprivileged_userfaultfd=0). */
    private static final long USERFAULTFD_IOC_NEW = 0xAA00L;
    private static final long REGISTER_MODE_MISSING = 1;
    private static final int IOCTL_COPY_BIT = 3;
    private static final int IOCTL_ZEROPAGE_BIT = 4;
    private static final int EVENT_PAGEFAULT = 0x12;
    public static final int EEXIST = 17;

    private final int fd;
    private boolean closed;

    private Userfaultfd(int fd) {
        this.fd = fd;
    }

    /**
     * A new userfaultfd (blocking reads, close-on-exec) past the API handshake: the system call first, then
     * /dev/userfaultfd (where the call is limited to user-mode faults, which KVM's are not).
     */
    public static Userfaultfd create() throws NativeException {
        int fd;
        try {
            fd = Libc.userfaultfd(Libc.O_CLOEXEC);
        } catch (NativeException syscallFailed) {
            int device;
            try {
                device = Libc.open("/dev/userfaultfd", Libc.O_RDWR | Libc.O_CLOEXEC);
            } catch (NativeException e) {
                throw syscallFailed;
            }
            try {
                fd = Libc.ioctl(device, USERFAULTFD_IOC_NEW, Libc.O_CLOEXEC);
            } finally {
                Libc.close(device);
            }
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment api = arena.allocate(UffdioApiLayout.LAYOUT);
            api.set(ValueLayout.JAVA_LONG, UffdioApiLayout.API, UFFD_API);
            Libc.ioctl(fd, UFFDIO_API, api);
        } catch (NativeException e) {
            Libc.close(fd);
            throw e;
        }
        return new Userfaultfd(fd);
    }

    /** A userfaultfd handed over by the process that made it (its handshake done there). */
    public static Userfaultfd adopt(int fd) {
        return new Userfaultfd(fd);
    }

    public int fd() {
        return fd;
    }

    /** Reports missing-page faults on {@code range} (page-aligned); fails where the kernel cannot fill them (secretmem). */
    public void register(MemorySegment range) throws NativeException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment register = arena.allocate(UffdioRegisterLayout.LAYOUT);
            register.set(ValueLayout.JAVA_LONG, UffdioRegisterLayout.RANGE + UffdioRangeLayout.START, range.address());
            register.set(ValueLayout.JAVA_LONG, UffdioRegisterLayout.RANGE + UffdioRangeLayout.LEN, range.byteSize());
            register.set(ValueLayout.JAVA_LONG, UffdioRegisterLayout.MODE, REGISTER_MODE_MISSING);
            Libc.ioctl(fd, UFFDIO_REGISTER, register);
            long ioctls = register.get(ValueLayout.JAVA_LONG, UffdioRegisterLayout.LAYOUT.byteSize() - 8);
            if ((ioctls & (1L << IOCTL_COPY_BIT)) == 0 || (ioctls & (1L << IOCTL_ZEROPAGE_BIT)) == 0) {
                unregister(range);
                throw NativeException.of("userfaultfd on this memory (no UFFDIO_COPY or UFFDIO_ZEROPAGE)", Libc.EINVAL);
            }
        }
    }

    /** Ends reporting on {@code range}; faults waiting there are woken and then served as if never registered. */
    public void unregister(MemorySegment range) throws NativeException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment unregister = arena.allocate(UffdioRangeLayout.LAYOUT);
            unregister.set(ValueLayout.JAVA_LONG, UffdioRangeLayout.START, range.address());
            unregister.set(ValueLayout.JAVA_LONG, UffdioRangeLayout.LEN, range.byteSize());
            Libc.ioctl(fd, UFFDIO_UNREGISTER, unregister);
        }
    }

    /** One thread's way of answering faults: its own argument structures and errno slot. */
    public Answerer answerer(Arena arena) {
        return new Answerer(arena);
    }

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            Libc.close(fd);
        }
    }

    /** Reads faults and fills pages; one per thread. Results are -errno, never exceptions: they are routine. */
    public final class Answerer {
        private final Libc.CallState state;
        private final MemorySegment message;
        private final MemorySegment copy;
        private final MemorySegment zeropage;
        private final MemorySegment range;

        private Answerer(Arena arena) {
            state = new Libc.CallState(arena);
            message = arena.allocate(UffdMsgLayout.LAYOUT);
            copy = arena.allocate(UffdioCopyLayout.LAYOUT);
            zeropage = arena.allocate(UffdioZeropageLayout.LAYOUT);
            range = arena.allocate(UffdioRangeLayout.LAYOUT);
        }

        /** The address of the next missing-page fault (waits for one); -1 for another kind of event, or -errno. */
        public long nextFault() {
            long read;
            do {
                read = Libc.read(fd, message, state);
            } while (read == -Libc.EINTR);
            if (read < 0) {
                return read;
            }
            if (read != message.byteSize()) {
                return -Libc.EIO;
            }
            if ((message.get(ValueLayout.JAVA_BYTE, UffdMsgLayout.EVENT) & 0xff) != EVENT_PAGEFAULT) {
                return -1;
            }
            return message.get(ValueLayout.JAVA_LONG, UffdMsgLayout.ADDRESS);
        }

        /**
         * Fills the missing pages {@code [destination, destination + source's size)} with {@code source} and
         * wakes whoever waits there; 0, -EEXIST when a page is there already, or -errno.
         */
        public int copy(long destination, MemorySegment source) {
            long done = 0;
            while (done < source.byteSize()) {
                copy.set(ValueLayout.JAVA_LONG, UffdioCopyLayout.DST, destination + done);
                copy.set(ValueLayout.JAVA_LONG, UffdioCopyLayout.SRC, source.address() + done);
                copy.set(ValueLayout.JAVA_LONG, UffdioCopyLayout.LEN, source.byteSize() - done);
                copy.set(ValueLayout.JAVA_LONG, UffdioCopyLayout.MODE, 0L);
                copy.set(ValueLayout.JAVA_LONG, UffdioCopyLayout.COPY, 0L);
                int result = Libc.ioctl(fd, UFFDIO_COPY, copy, state);
                long copied = copy.get(ValueLayout.JAVA_LONG, UffdioCopyLayout.COPY);
                if (copied > 0) {
                    done += copied;
                }
                if (result < 0 && result != -Libc.EAGAIN) {
                    return result;
                }
            }
            return 0;
        }

        /** Maps zero pages at the missing pages of {@code [start, start + length)} and wakes waiters; 0 or -errno. */
        public int zero(long start, long length) {
            zeropage.set(ValueLayout.JAVA_LONG, UffdioZeropageLayout.RANGE + UffdioRangeLayout.START, start);
            zeropage.set(ValueLayout.JAVA_LONG, UffdioZeropageLayout.RANGE + UffdioRangeLayout.LEN, length);
            zeropage.set(ValueLayout.JAVA_LONG, UffdioZeropageLayout.MODE, 0L);
            int result;
            do {
                result = Libc.ioctl(fd, UFFDIO_ZEROPAGE, zeropage, state);
            } while (result == -Libc.EAGAIN || result == -Libc.EINTR);
            return result;
        }

        /** Wakes threads waiting on {@code [start, start + length)} (pages someone else filled meanwhile); 0 or -errno. */
        public int wake(long start, long length) {
            range.set(ValueLayout.JAVA_LONG, UffdioRangeLayout.START, start);
            range.set(ValueLayout.JAVA_LONG, UffdioRangeLayout.LEN, length);
            return Libc.ioctl(fd, UFFDIO_WAKE, range, state);
        }
    }
}
