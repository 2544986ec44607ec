package io.vmguard.engine.kvm;

import io.vmguard.engine.EngineException;
import io.vmguard.sys.Libc;
import io.vmguard.sys.NativeException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The process-wide signal that kicks a vCPU thread out of KVM_RUN.
 *
 * <p>KVM_RUN returns EINTR when its thread has a signal pending that is neither blocked nor ignored.
 * The handler itself does not matter, only that there is one (SIG_DFL would kill the process for a
 * real-time signal, SIG_IGN would discard it before KVM saw it). Java cannot run code in a signal
 * handler, so the handler is the address of {@code getpid}: async-signal-safe, touches no memory,
 * and on x86-64 a function that ignores its arguments can stand in for {@code void (*)(int)}.
 *
 * <p>Which signal: HotSpot on Linux uses SIGSEGV, SIGBUS, SIGILL, SIGFPE and SIGTRAP for implicit
 * exceptions, SIGUSR2 for thread suspend/resume ({@code _JAVA_SR_SIGNUM} may move it), SIGQUIT for
 * thread dumps, SIGHUP/SIGINT/SIGTERM for shutdown hooks and SIGPIPE/SIGXFSZ; JFR's CPU-time sampler
 * uses SIGPROF. It never uses real-time signals, and glibc keeps the two below SIGRTMIN for itself. So
 * the kick is the first real-time signal from SIGRTMIN up whose disposition is still SIG_DFL, which also
 * steps around a library (or a moved {@code _JAVA_SR_SIGNUM}) that took one before us.
 *
 * <p>SA_RESTART is left clear. It would not matter to KVM_RUN, whose EINTR the kernel never restarts,
 * and vmguard only sends the signal while the thread is inside its KVM_RUN window; clear is the
 * conservative choice should a kick ever land elsewhere.
 */
final class KickSignal {
    private static int number;

    private KickSignal() {}

    /** The kick signal's number, installing its handler on first use. */
    static synchronized int number() throws EngineException {
        if (number == 0) {
            number = install();
        }
        return number;
    }

    private static int install() throws EngineException {
        long handler = Libc.function("getpid").address();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment current = arena.allocate(SigactionLayout.LAYOUT);
            MemorySegment ours = arena.allocate(SigactionLayout.LAYOUT);
            SigactionLayout.write(ours, handler, 0);
            for (int signal = Libc.sigrtmin(); signal <= Libc.sigrtmax(); signal++) {
                Libc.sigaction(signal, MemorySegment.NULL, current);
                if (SigactionLayout.handler(current) == Libc.SIG_DFL) {
                    Libc.sigaction(signal, ours, MemorySegment.NULL);
                    return signal;
                }
            }
        } catch (NativeException e) {
            throw new EngineException("cannot install the vCPU kick signal: " + e.getMessage(), e);
        }
        throw new EngineException("no free real-time signal to kick vCPUs out of KVM_RUN (all have handlers)");
    }
}
