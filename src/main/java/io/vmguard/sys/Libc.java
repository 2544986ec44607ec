package io.vmguard.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * The C library functions vmguard calls, as hand-written FFM downcall handles.
 *
 * <p>Every call captures {@code errno} so failures can be reported as one-line messages naming the
 * cause. This is the only class that binds libc; engines and memory go through it.
 */
public final class Libc {
    public static final int O_RDWR = 0x2;
    public static final int O_NONBLOCK = 0x800;
    public static final int O_CLOEXEC = 0x80000;

    public static final int PROT_READ = 0x1;
    public static final int PROT_WRITE = 0x2;
    public static final int MAP_SHARED = 0x01;
    public static final int MAP_PRIVATE = 0x02;
    public static final int MAP_ANONYMOUS = 0x20;
    public static final int MAP_NORESERVE = 0x4000;
    public static final long MAP_FAILED = -1L;

    public static final int EINTR = 4;
    public static final int EAGAIN = 11;
    public static final int EPERM = 1;
    public static final int ENOENT = 2;
    public static final int ESRCH = 3;
    public static final int EIO = 5;
    public static final int ENXIO = 6;
    public static final int E2BIG = 7;
    public static final int ENOMEM = 12;
    public static final int EACCES = 13;
    public static final int EBUSY = 16;
    public static final int ENODEV = 19;
    public static final int ENOTDIR = 20;
    public static final int EINVAL = 22;
    public static final int EBADFD = 77;
    public static final int EMSGSIZE = 90;
    public static final int EPROTOTYPE = 91;
    public static final int EADDRINUSE = 98;
    public static final int ENOBUFS = 105;
    public static final int ECONNREFUSED = 111;

    public static final int AF_UNIX = 1;
    public static final int SOCK_DGRAM = 2;
    public static final int SOCK_NONBLOCK = 0x800;
    public static final int SOCK_CLOEXEC = 0x80000;
    /** recv: return the datagram's real length even when it did not fit the buffer. */
    public static final int MSG_TRUNC = 0x20;
    public static final int MSG_DONTWAIT = 0x40;
    public static final int MSG_NOSIGNAL = 0x4000;
    public static final int SOL_SOCKET = 1;
    /** setsockopt: how long a blocking send may wait (struct timeval; x86-64's SO_SNDTIMEO_OLD). */
    public static final int SO_SNDTIMEO = 21;

    public static final short POLLIN = 0x1;
    public static final short POLLERR = 0x8;
    public static final short POLLHUP = 0x10;
    public static final short POLLNVAL = 0x20;

    public static final int EFD_NONBLOCK = 0x800;
    public static final int EFD_CLOEXEC = 0x80000;

    /** Signal dispositions as sigaction(2) reports them in sa_handler. */
    public static final long SIG_DFL = 0;
    public static final long SIG_IGN = 1;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIBC = LINKER.defaultLookup();
    private static final StructLayout CALL_STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CALL_STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final Linker.Option CAPTURE_ERRNO = Linker.Option.captureCallState("errno");

    /*
     * Each downcall is linked the first time it is called: it sits in a holder class of its own, which the JVM
     * initialises on first use, and stays a constant the JIT can inline. Linking costs 5-15 ms a downcall on a
     * cold JVM (a stub and its method handles, none of which the AOT cache keeps); linking all of them when this
     * class loaded cost every boot 0.2-0.4 s before its first guest instruction, for the few a boot calls.
     */
    private static final class Open {
        static final MethodHandle CALL = bind("open",
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT),
                Linker.Option.firstVariadicArg(2));
    }
    private static final class Fstat {
        static final MethodHandle CALL = bind("fstat",
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS));
    }
    private static final class Close {
        static final MethodHandle CALL = bind("close",
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    }
    private static final class Ioctl {
        static final MethodHandle CALL = bind("ioctl",
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG),
                Linker.Option.firstVariadicArg(2));
    }
    private static final class Write {
        static final MethodHandle CALL = bind("write",
                FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
    }
    private static final class Readv {
        static final MethodHandle CALL = bind("readv",
                FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
    }
    private static final class Poll {
        static final MethodHandle CALL = bind("poll",
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
    }
    private static final class Eventfd {
        static final MethodHandle CALL = bind("eventfd",
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    }
    private static final class Socket {
        static final MethodHandle CALL = bind("socket",
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    }
    private static final class Bind {
        static final MethodHandle CALL = bind("bind",
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
    }
    private static final class Setsockopt {
        static final MethodHandle CALL = bind("setsockopt",
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
                        ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
    }
    private static final class Connect {
        static final MethodHandle CALL = bind("connect",
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
    }
    private static final class Sendto {
        static final MethodHandle CALL = bind("sendto",
                FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG,
                        ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
    }
    private static final class Recv {
        static final MethodHandle CALL = bind("recv",
                FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG,
                        ValueLayout.JAVA_INT));
    }
    private static final class Mmap {
        static final MethodHandle CALL = bind("mmap",
                FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG,
                        ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG));
    }
    private static final class Munmap {
        static final MethodHandle CALL = bind("munmap",
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG));
    }
    private static final class Sigaction {
        static final MethodHandle CALL = bind("sigaction",
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS));
    }
    private static final class PthreadSelf {
        static final MethodHandle CALL = LINKER.downcallHandle(
                LIBC.find("pthread_self").orElseThrow(), FunctionDescriptor.of(ValueLayout.JAVA_LONG));
    }
    // pthread_kill reports failure as its return value, not through errno.
    private static final class PthreadKill {
        static final MethodHandle CALL = LINKER.downcallHandle(
                LIBC.find("pthread_kill").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
    }
    // SIGRTMIN/SIGRTMAX are functions in glibc: it keeps the lowest real-time signals for itself.
    private static final class Sigrtmin {
        static final MethodHandle CALL = LINKER.downcallHandle(
                LIBC.find("__libc_current_sigrtmin").orElseThrow(), FunctionDescriptor.of(ValueLayout.JAVA_INT));
    }
    private static final class Sigrtmax {
        static final MethodHandle CALL = LINKER.downcallHandle(
                LIBC.find("__libc_current_sigrtmax").orElseThrow(), FunctionDescriptor.of(ValueLayout.JAVA_INT));
    }
    private static final class Strerror {
        static final MethodHandle CALL = LINKER.downcallHandle(
                LIBC.find("strerror").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.ADDRESS.withTargetLayout(MemoryLayout.sequenceLayout(256, ValueLayout.JAVA_BYTE)),
                        ValueLayout.JAVA_INT));
    }

    private Libc() {}

    private static MethodHandle bind(String name, FunctionDescriptor descriptor, Linker.Option... extra) {
        Linker.Option[] options = new Linker.Option[extra.length + 1];
        options[0] = CAPTURE_ERRNO;
        System.arraycopy(extra, 0, options, 1, extra.length);
        return LINKER.downcallHandle(LIBC.find(name).orElseThrow(), descriptor, options);
    }

    /** Opens {@code path}; returns the file descriptor or throws with errno's text. */
    public static int open(String path, int flags) throws NativeException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            int fd = (int) Open.CALL.invokeExact(state, arena.allocateFrom(path), flags);
            if (fd < 0) {
                throw NativeException.of("open " + path, errno(state));
            }
            return fd;
        } catch (NativeException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /**
     * The bytes the file open as {@code fd} has on disk (fstat's st_blocks x 512: its data, not its holes); throws
     * with errno's text.
     */
    public static long allocatedBytes(int fd) throws NativeException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            MemorySegment stat = arena.allocate(StatLayout.LAYOUT);
            if ((int) Fstat.CALL.invokeExact(state, fd, stat) < 0) {
                throw NativeException.of("fstat", errno(state));
            }
            return StatLayout.allocatedBytes(stat);
        } catch (NativeException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /**
     * Links every downcall now (0.2-0.4 s on a cold JVM) instead of at each one's first call. A server calls it
     * while it waits for its first request, so that request does not pay for it.
     */
    public static void link() {
        for (Class<?> holder : Libc.class.getDeclaredClasses()) {
            try {
                MethodHandles.lookup().ensureInitialized(holder);
            } catch (IllegalAccessException e) {
                throw new AssertionError(e); // a nested class is always accessible to its outer class's lookup
            }
        }
    }

    public static void close(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            int ignored = (int) Close.CALL.invokeExact(arena.allocate(CALL_STATE), fd);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /**
     * Calls ioctl with an integer or pointer argument and returns its non-negative result. EINTR is
     * reported to the caller as an {@link NativeException} whose {@link NativeException#errno()} is
     * {@link #EINTR}, because a vCPU run loop must see it (it means "asked to stop").
     */
    public static int ioctl(int fd, long request, long argument) throws NativeException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            int result = (int) Ioctl.CALL.invokeExact(state, fd, request, argument);
            if (result < 0) {
                throw NativeException.of("ioctl 0x" + Long.toHexString(request), errno(state));
            }
            return result;
        } catch (NativeException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    public static int ioctl(int fd, long request, MemorySegment argument) throws NativeException {
        return ioctl(fd, request, argument.address());
    }

    /** Creates an eventfd(2) with counter {@code initialValue}; returns its file descriptor. */
    public static int eventfd(int initialValue, int flags) throws NativeException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            int fd = (int) Eventfd.CALL.invokeExact(state, initialValue, flags);
            if (fd < 0) {
                throw NativeException.of("eventfd", errno(state));
            }
            return fd;
        } catch (NativeException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** Creates a socket(2); returns its file descriptor. */
    public static int socket(int domain, int type, int protocol) throws NativeException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            int fd = (int) Socket.CALL.invokeExact(state, domain, type, protocol);
            if (fd < 0) {
                throw NativeException.of("socket", errno(state));
            }
            return fd;
        } catch (NativeException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** Binds socket {@code fd} to {@code address}, a socket address exactly as long as the kernel should read. */
    public static void bind(int fd, MemorySegment address) throws NativeException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            int result = (int) Bind.CALL.invokeExact(state, fd, address, (int) address.byteSize());
            if (result < 0) {
                throw NativeException.of("bind", errno(state));
            }
        } catch (NativeException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** setsockopt(2): sets option {@code name} at {@code level} of socket {@code fd} to {@code value} (all of it). */
    public static void setsockopt(int fd, int level, int name, MemorySegment value) throws NativeException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            int result = (int) Setsockopt.CALL.invokeExact(state, fd, level, name, value, (int) value.byteSize());
            if (result < 0) {
                throw NativeException.of("setsockopt", errno(state));
            }
        } catch (NativeException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** Connects socket {@code fd} to {@code address} (as long as the kernel should read). */
    public static void connect(int fd, MemorySegment address) throws NativeException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            int result = (int) Connect.CALL.invokeExact(state, fd, address, (int) address.byteSize());
            if (result < 0) {
                throw NativeException.of("connect", errno(state));
            }
        } catch (NativeException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /**
     * Where the calls below leave errno. They run once per network frame, so instead of allocating a
     * call state per call as the set-up calls above do, the thread making them allocates one up front
     * and passes it each time. A thread's own: two threads must not share one.
     */
    public static final class CallState {
        private final MemorySegment segment;

        public CallState(Arena arena) {
            this.segment = arena.allocate(CALL_STATE);
        }
    }

    /*
     * The calls that run once per frame report failure as a negative errno in their result, as the kernel
     * does, rather than as an exception: on a busy link an absent peer fails every send, and building an
     * exception with its stack trace each time would cost more than the send.
     */

    /**
     * Calls sendto(2) with the whole of {@code buffer} (a native segment) to {@code address} (a socket
     * address exactly as long as the kernel should read, or NULL); returns the bytes sent or -errno.
     */
    public static long sendto(int fd, MemorySegment buffer, int flags, MemorySegment address, CallState state) {
        try {
            long result = (long) Sendto.CALL.invokeExact(state.segment, fd, buffer, buffer.byteSize(), flags, address,
                    (int) address.byteSize());
            return result < 0 ? -errno(state.segment) : result;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /**
     * Calls recv(2) into {@code buffer} (a native segment); returns the bytes received (with
     * {@link #MSG_TRUNC}: the datagram's real length, which may exceed the buffer) or -errno.
     */
    public static long recv(int fd, MemorySegment buffer, int flags, CallState state) {
        try {
            long result = (long) Recv.CALL.invokeExact(state.segment, fd, buffer, buffer.byteSize(), flags);
            return result < 0 ? -errno(state.segment) : result;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** Calls readv(2) with {@code count} struct iovec at {@code iovecs}; returns the bytes read or -errno. */
    public static long readv(int fd, MemorySegment iovecs, int count, CallState state) {
        try {
            long result = (long) Readv.CALL.invokeExact(state.segment, fd, iovecs, count);
            return result < 0 ? -errno(state.segment) : result;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** Calls write(2) with the whole of {@code buffer} (a native segment); returns the bytes written or -errno. */
    public static long write(int fd, MemorySegment buffer, CallState state) {
        try {
            long result = (long) Write.CALL.invokeExact(state.segment, fd, buffer, buffer.byteSize());
            return result < 0 ? -errno(state.segment) : result;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /**
     * Calls poll(2) on {@code count} struct pollfd at {@code fds}, waiting at most {@code timeoutMillis}
     * (negative: forever); returns how many have events (0 on timeout) or -errno.
     */
    public static int poll(MemorySegment fds, int count, int timeoutMillis, CallState state) {
        try {
            int result = (int) Poll.CALL.invokeExact(state.segment, fds, (long) count, timeoutMillis);
            return result < 0 ? -errno(state.segment) : result;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /**
     * A caller's mistake FFM caught before the call (a heap or closed segment, a segment of another thread)
     * goes back to the caller as it is; anything else cannot happen with these descriptors.
     */
    private static RuntimeException unexpected(Throwable t) {
        if (t instanceof IllegalArgumentException || t instanceof IllegalStateException
                || t instanceof WrongThreadException) {
            return (RuntimeException) t;
        }
        throw new AssertionError(t);
    }

    /** Maps {@code length} bytes and returns them as a segment whose lifetime the caller owns (see {@link #munmap}). */
    public static MemorySegment mmap(long length, int prot, int flags, int fd, long offset) throws NativeException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            long address = (long) Mmap.CALL.invokeExact(state, 0L, length, prot, flags, fd, offset);
            if (address == MAP_FAILED) {
                throw NativeException.of("mmap of " + length + " bytes", errno(state));
            }
            return MemorySegment.ofAddress(address).reinterpret(length);
        } catch (NativeException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    public static void munmap(MemorySegment mapping) {
        try (Arena arena = Arena.ofConfined()) {
            int ignored = (int) Munmap.CALL.invokeExact(arena.allocate(CALL_STATE), mapping.address(), mapping.byteSize());
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /**
     * Calls sigaction(2): installs {@code action} (a {@code struct sigaction}, or NULL to only query) for
     * {@code signal} and stores the previous one in {@code oldAction} (or NULL).
     */
    public static void sigaction(int signal, MemorySegment action, MemorySegment oldAction) throws NativeException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            int result = (int) Sigaction.CALL.invokeExact(state, signal, action, oldAction);
            if (result < 0) {
                throw NativeException.of("sigaction " + signal, errno(state));
            }
        } catch (NativeException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** The calling thread's pthread_t. */
    public static long pthreadSelf() {
        try {
            return (long) PthreadSelf.CALL.invokeExact();
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** Sends {@code signal} to thread {@code thread}; returns 0 or an error number (e.g. {@link #ESRCH}). */
    public static int pthreadKill(long thread, int signal) {
        try {
            return (int) PthreadKill.CALL.invokeExact(thread, signal);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** The lowest real-time signal an application may use (glibc's SIGRTMIN). */
    public static int sigrtmin() {
        try {
            return (int) Sigrtmin.CALL.invokeExact();
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** The highest real-time signal (glibc's SIGRTMAX). */
    public static int sigrtmax() {
        try {
            return (int) Sigrtmax.CALL.invokeExact();
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** The address of a C library function, for passing as a native function pointer. */
    public static MemorySegment function(String name) {
        return LIBC.find(name).orElseThrow(() -> new IllegalArgumentException("no C library function " + name));
    }

    /** The C library's text for an errno value, e.g. "Permission denied". */
    public static String strerror(int errno) {
        try {
            MemorySegment text = (MemorySegment) Strerror.CALL.invokeExact(errno);
            return text.reinterpret(Long.MAX_VALUE).getString(0);
        } catch (Throwable t) {
            return "errno " + errno;
        }
    }

    // Guest RAM kept out of the host's reach (memfd_secret, no core dumps, no ptrace): see memory.GuestMemory.
    public static final int ENOSYS = 38;
    public static final long SYS_MEMFD_SECRET = 447;
    public static final int MADV_DONTDUMP = 16;
    public static final int MADV_HUGEPAGE = 14;
    public static final int PR_SET_DUMPABLE = 4;
    public static final int PR_GET_DUMPABLE = 3;
    private static final class Syscall1 {
        static final MethodHandle CALL = bind("syscall",
                FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG),
                Linker.Option.firstVariadicArg(1));
    }
    private static final class Ftruncate {
        static final MethodHandle CALL = bind("ftruncate",
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG));
    }
    private static final class Madvise {
        static final MethodHandle CALL = bind("madvise",
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
    }
    private static final class Prctl {
        static final MethodHandle CALL = bind("prctl",
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG),
                Linker.Option.firstVariadicArg(1));
    }

    // A sealed snapshot restored lazily (seal.PostCopyRestore): userfaultfd(2), a helper process, its socket.
    public static final long SYS_USERFAULTFD = 323;
    public static final int PR_SET_PDEATHSIG = 1;
    public static final int SIGKILL = 9;
    public static final int SOCK_STREAM = 1;
    /** Keeps message boundaries as a TPM character device does (tests put swtpm's chardev mode on one). */
    public static final int SOCK_SEQPACKET = 5;
    public static final int WNOHANG = 1;
    private static final class Read {
        static final MethodHandle CALL = bind("read",
                FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
    }
    private static final class Socketpair {
        static final MethodHandle CALL = bind("socketpair",
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
                        ValueLayout.ADDRESS));
    }
    private static final class Dup {
        static final MethodHandle CALL = bind("dup",
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    }
    private static final class Kill {
        static final MethodHandle CALL = bind("kill",
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    }
    private static final class Waitpid {
        static final MethodHandle CALL = bind("waitpid",
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
    }
    // posix_spawn and its file actions report failure as their return value, not through errno.
    private static final class PosixSpawn {
        static final MethodHandle CALL = LINKER.downcallHandle(LIBC.find("posix_spawn").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.ADDRESS,
                        ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.ADDRESS));
    }
    private static final class SpawnActionsInit {
        static final MethodHandle CALL = LINKER.downcallHandle(
                LIBC.find("posix_spawn_file_actions_init").orElseThrow(), FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS));
    }
    private static final class SpawnActionsDestroy {
        static final MethodHandle CALL = LINKER.downcallHandle(
                LIBC.find("posix_spawn_file_actions_destroy").orElseThrow(), FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS));
    }
    private static final class SpawnActionsDup2 {
        static final MethodHandle CALL = LINKER.downcallHandle(
                LIBC.find("posix_spawn_file_actions_adddup2").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    }
    // glibc 2.34 and later; without it spawn() refuses (a child would inherit every descriptor the JDK left open).
    private static final class SpawnActionsClosefrom {
        static final MethodHandle CALL = LIBC.find("posix_spawn_file_actions_addclosefrom_np")
                .map(symbol -> LINKER.downcallHandle(symbol, FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT)))
                .orElse(null);
    }
    /** glibc's posix_spawn_file_actions_t is 80 bytes on x86-64; a little room to spare. */
    private static final long SPAWN_ACTIONS_BYTES = 128;

    /** userfaultfd(2) with {@code flags}; the file descriptor, or throws with errno's text. */
    public static int userfaultfd(int flags) throws NativeException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            long fd = (long) Syscall1.CALL.invokeExact(state, SYS_USERFAULTFD, (long) flags);
            if (fd < 0) {
                throw NativeException.of("userfaultfd", errno(state));
            }
            return (int) fd;
        } catch (NativeException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** Calls read(2) into all of {@code buffer} (a native segment); returns the bytes read (0 at end) or -errno. */
    public static long read(int fd, MemorySegment buffer, CallState state) {
        try {
            long result = (long) Read.CALL.invokeExact(state.segment, fd, buffer, buffer.byteSize());
            return result < 0 ? -errno(state.segment) : result;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** Calls ioctl with a pointer argument; returns its result or -errno (for calls that fail as a matter of course). */
    public static int ioctl(int fd, long request, MemorySegment argument, CallState state) {
        try {
            int result = (int) Ioctl.CALL.invokeExact(state.segment, fd, request, argument.address());
            return result < 0 ? -errno(state.segment) : result;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** socketpair(2): two connected sockets, returned as {@code [a, b]}. */
    public static int[] socketpair(int domain, int type) throws NativeException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            MemorySegment fds = arena.allocate(ValueLayout.JAVA_INT, 2);
            if ((int) Socketpair.CALL.invokeExact(state, domain, type, 0, fds) < 0) {
                throw NativeException.of("socketpair", errno(state));
            }
            return new int[] {fds.getAtIndex(ValueLayout.JAVA_INT, 0), fds.getAtIndex(ValueLayout.JAVA_INT, 1)};
        } catch (NativeException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /**
     * Starts {@code argv} (argv[0] an absolute path) with an empty environment; the child's descriptors 3, 4,
     * ... are {@code childFds} in order, and it inherits no other descriptor above 2 (the JDK opens many
     * without close-on-exec). Returns the child's process id.
     */
    public static int spawn(java.util.List<String> argv, int... childFds) throws NativeException {
        if (SpawnActionsClosefrom.CALL == null) {
            throw NativeException.of("posix_spawn_file_actions_addclosefrom_np (glibc 2.34 or later)", ENOSYS);
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment actions = arena.allocate(SPAWN_ACTIONS_BYTES, 16);
            check("posix_spawn_file_actions_init", (int) SpawnActionsInit.CALL.invokeExact(actions));
            try {
                // Park each on a number above all of them first, so no dup2 overwrites one not yet moved.
                int park = 3 + childFds.length;
                for (int fd : childFds) {
                    park = Math.max(park, fd + 1);
                }
                for (int i = 0; i < childFds.length; i++) {
                    check("posix_spawn_file_actions_adddup2", (int) SpawnActionsDup2.CALL.invokeExact(actions, childFds[i], park + i));
                }
                for (int i = 0; i < childFds.length; i++) {
                    check("posix_spawn_file_actions_adddup2", (int) SpawnActionsDup2.CALL.invokeExact(actions, park + i, 3 + i));
                }
                check("posix_spawn_file_actions_addclosefrom_np",
                        (int) SpawnActionsClosefrom.CALL.invokeExact(actions, 3 + childFds.length));
                MemorySegment args = arena.allocate(ValueLayout.ADDRESS, argv.size() + 1);
                for (int i = 0; i < argv.size(); i++) {
                    args.setAtIndex(ValueLayout.ADDRESS, i, arena.allocateFrom(argv.get(i)));
                }
                MemorySegment environment = arena.allocate(ValueLayout.ADDRESS); // just the terminating NULL
                MemorySegment pid = arena.allocate(ValueLayout.JAVA_INT);
                check("posix_spawn " + argv.getFirst(), (int) PosixSpawn.CALL.invokeExact(pid, args.getAtIndex(ValueLayout.ADDRESS, 0),
                        actions, MemorySegment.NULL, args, environment));
                return pid.get(ValueLayout.JAVA_INT, 0);
            } finally {
                int ignored = (int) SpawnActionsDestroy.CALL.invokeExact(actions);
            }
        } catch (NativeException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    private static void check(String what, int result) throws NativeException {
        if (result != 0) {
            throw NativeException.of(what, result);
        }
    }

    /**
     * dup(2): a second descriptor for the same open file. Not close-on-exec, which is harmless here: the JDK's
     * children and {@link #spawn}'s close every descriptor above 2 they were not given.
     */
    public static int dup(int fd) throws NativeException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            int copy = (int) Dup.CALL.invokeExact(state, fd);
            if (copy < 0) {
                throw NativeException.of("dup " + fd, errno(state));
            }
            return copy;
        } catch (NativeException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** kill(2); false if the process is gone already. */
    public static boolean kill(int pid, int signal) {
        try (Arena arena = Arena.ofConfined()) {
            return (int) Kill.CALL.invokeExact(arena.allocate(CALL_STATE), pid, signal) == 0;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** waitpid(2) for child {@code pid}: its raw status, or -1 when it still runs (with {@link #WNOHANG}) or is not ours. */
    public static int waitpid(int pid, int options) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment status = arena.allocate(ValueLayout.JAVA_INT);
            int result;
            do {
                MemorySegment state = arena.allocate(CALL_STATE);
                result = (int) Waitpid.CALL.invokeExact(state, pid, status, options);
                if (result < 0 && errno(state) != EINTR) {
                    return -1;
                }
            } while (result < 0);
            return result == 0 ? -1 : status.get(ValueLayout.JAVA_INT, 0);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /**
     * memfd_secret(2) (syscall 447, no glibc wrapper): a file whose pages the kernel removes from its direct
     * map, so no other process, and no kernel read on its behalf (/proc/PID/mem, ptrace), reaches them.
     * ENOSYS where the kernel lacks CONFIG_SECRETMEM or was not booted with secretmem.enable=1.
     */
    public static int memfdSecret(int flags) throws NativeException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            long fd = (long) Syscall1.CALL.invokeExact(state, SYS_MEMFD_SECRET, (long) flags);
            if (fd < 0) {
                throw NativeException.of("memfd_secret", errno(state));
            }
            return (int) fd;
        } catch (NativeException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    public static void ftruncate(int fd, long length) throws NativeException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            if ((int) Ftruncate.CALL.invokeExact(state, fd, length) < 0) {
                throw NativeException.of("ftruncate to " + length + " bytes", errno(state));
            }
        } catch (NativeException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    public static void madvise(MemorySegment range, int advice) throws NativeException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            if ((int) Madvise.CALL.invokeExact(state, range.address(), range.byteSize(), advice) < 0) {
                throw NativeException.of("madvise " + advice, errno(state));
            }
        } catch (NativeException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** prctl(2) with one argument; returns its result. */
    public static int prctl(int option, long argument) throws NativeException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            int result = (int) Prctl.CALL.invokeExact(state, option, argument);
            if (result < 0) {
                throw NativeException.of("prctl " + option, errno(state));
            }
            return result;
        } catch (NativeException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    // Host scheduling of vmguard's own threads (issue 17): nice, policy and CPU affinity per thread.
    public static final int SCHED_OTHER = 0;
    public static final int SCHED_BATCH = 3;
    public static final int SCHED_IDLE = 5;
    public static final int PRIO_PROCESS = 0;
    private static final long SYS_GETPRIORITY = 140;
    private static final long SYS_SCHED_SETATTR = 314;
    private static final long SYS_SCHED_GETATTR = 315;
    private static final class Gettid {
        static final MethodHandle CALL = bind("gettid", FunctionDescriptor.of(ValueLayout.JAVA_INT));
    }
    private static final class Setpriority {
        static final MethodHandle CALL = bind("setpriority",
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    }
    private static final class SchedSetaffinity {
        static final MethodHandle CALL = bind("sched_setaffinity",
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.ADDRESS));
    }
    private static final class SchedGetaffinity {
        static final MethodHandle CALL = bind("sched_getaffinity",
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.ADDRESS));
    }
    private static final class Syscall4 {
        static final MethodHandle CALL = bind("syscall",
                FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG,
                        ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG),
                Linker.Option.firstVariadicArg(1));
    }

    /** The calling thread's kernel id (what /proc/PID/task/ lists and the sched_* calls take). */
    public static int gettid() {
        try (Arena arena = Arena.ofConfined()) {
            return (int) Gettid.CALL.invokeExact(arena.allocate(CALL_STATE));
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** setpriority(PRIO_PROCESS, tid, nice): on Linux a thread id names one thread, so this sets one thread's nice. */
    public static void setNice(int tid, int nice) throws NativeException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            if ((int) Setpriority.CALL.invokeExact(state, PRIO_PROCESS, tid, nice) < 0) {
                throw NativeException.of("setpriority of thread " + tid + " to " + nice, errno(state));
            }
        } catch (NativeException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /**
     * One thread's nice value, through the raw getpriority system call: it returns 20 - nice (1..40), never
     * -1 for a valid thread, where glibc's wrapper returns -1 both for nice -1 and for an error.
     */
    public static int getNice(int tid) throws NativeException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            long raw = (long) Syscall4.CALL.invokeExact(state, SYS_GETPRIORITY, (long) PRIO_PROCESS, (long) tid, 0L, 0L);
            if (raw < 0) {
                throw NativeException.of("getpriority of thread " + tid, errno(state));
            }
            return 20 - (int) raw;
        } catch (NativeException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /**
     * sched_setattr(2) (no glibc wrapper): puts thread {@code tid} under {@code policy} (SCHED_OTHER, SCHED_BATCH
     * or SCHED_IDLE) at {@code nice}, in one call.
     */
    public static void schedSetattr(int tid, int policy, int nice) throws NativeException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            MemorySegment attr = SchedAttrLayout.of(arena, policy, nice);
            if ((long) Syscall4.CALL.invokeExact(state, SYS_SCHED_SETATTR, (long) tid, attr.address(), 0L, 0L) < 0) {
                throw NativeException.of("sched_setattr of thread " + tid + " (policy " + policy + ", nice " + nice + ")",
                        errno(state));
            }
        } catch (NativeException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** Thread {@code tid}'s scheduling policy (SCHED_OTHER, SCHED_BATCH, SCHED_IDLE, ...), by sched_getattr(2). */
    public static int schedGetPolicy(int tid) throws NativeException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            MemorySegment attr = arena.allocate(SchedAttrLayout.LAYOUT);
            if ((long) Syscall4.CALL.invokeExact(state, SYS_SCHED_GETATTR, (long) tid, attr.address(),
                    SchedAttrLayout.LAYOUT.byteSize(), 0L) < 0) {
                throw NativeException.of("sched_getattr of thread " + tid, errno(state));
            }
            return SchedAttrLayout.policy(attr);
        } catch (NativeException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** sched_setaffinity(2): thread {@code tid} may run on the CPUs in {@code cpus} only. */
    public static void schedSetaffinity(int tid, java.util.BitSet cpus) throws NativeException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            MemorySegment set = CpuSetLayout.of(arena, cpus);
            if ((int) SchedSetaffinity.CALL.invokeExact(state, tid, set.byteSize(), set) < 0) {
                throw NativeException.of("sched_setaffinity of thread " + tid + " to CPUs " + cpus, errno(state));
            }
        } catch (NativeException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** sched_getaffinity(2): the CPUs thread {@code tid} may run on. */
    public static java.util.BitSet schedGetaffinity(int tid) throws NativeException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            MemorySegment set = arena.allocate(CpuSetLayout.LAYOUT);
            if ((int) SchedGetaffinity.CALL.invokeExact(state, tid, set.byteSize(), set) < 0) {
                throw NativeException.of("sched_getaffinity of thread " + tid, errno(state));
            }
            return CpuSetLayout.toBitSet(set);
        } catch (NativeException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    private static int errno(MemorySegment state) {
        return (int) ERRNO.get(state, 0L);
    }
}
